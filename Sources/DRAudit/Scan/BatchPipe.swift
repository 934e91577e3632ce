import DRAuditCore
import Foundation

/// A bounded hand-over of listed objects from a listing thread to the scanner. The target is used by one
/// thread at a time: the listing thread until it finishes, then the caller (for metadata reads).
final class BatchPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var batches: [[StorageObject]] = []
    private var finished = false
    private var failure: Error?
    private var cancelled = false
    private let capacity: Int

    private struct Cancelled: Error {}

    init(capacity: Int) { self.capacity = capacity }

    /// Starts listing `target` on a new thread. Wait on the result before touching the target again.
    func produce(from target: StorageTarget, plan: ListingPlan = ListingPlan(), batchSize: Int) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            do {
                var batch: [StorageObject] = []
                batch.reserveCapacity(batchSize)
                try target.list(plan: plan) { object in
                    batch.append(object)
                    if batch.count == batchSize {
                        try put(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                if !batch.isEmpty { try put(batch) }
                finish(nil)
            } catch {
                finish(error)
            }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        return done
    }

    private func put(_ batch: [StorageObject]) throws {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= capacity && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        batches.append(batch)
        condition.broadcast()
    }

    private func finish(_ error: Error?) {
        condition.lock()
        finished = true
        failure = error is Cancelled ? nil : error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch; nil when the listing is complete; throws the listing's error.
    func take() throws -> [StorageObject]? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty && !finished { condition.wait() }
        if !batches.isEmpty {
            let batch = batches.removeFirst()
            condition.broadcast()
            return batch
        }
        if let failure { throw failure }
        return nil
    }

    /// Stops the listing thread at its next batch.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
