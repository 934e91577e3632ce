import DRAuditCore
import Foundation

/// Runs `count` threads (they wait on the network, so not Dispatch's CPU-sized pool) and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for worker in 0..<count {
        group.enter()
        let thread = Thread {
            body(worker)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

/// Key ranges listed by several workers at once, their pages handed to one visitor on the caller's thread.
///
/// Workers take ranges from a queue. A worker whose range is still going (its page was truncated) while others
/// wait hands parts of what remains to them (`shareOut`): its own end moves to the first cut, and the parts
/// beyond are queued. Only a range's own worker moves its end, between two pages, so nothing it delivered lies
/// beyond the end and nothing is listed twice. The first failure stops every worker and is what `run` throws.
final class RangeListing: @unchecked Sendable {
    final class Work: @unchecked Sendable {
        fileprivate var range: KeyRange
        /// Cut off a range while listing: it may well be empty, and its first page then only reads the keys past
        /// its end, so that page is asked small.
        let isGuess: Bool
        init(_ range: KeyRange, isGuess: Bool = false) {
            self.range = range
            self.isGuess = isGuess
        }
    }

    private struct Stopped: Error {}

    private let condition = NSCondition()
    private var pending: [Work]
    private var busy = 0
    private var idle = 0
    private(set) var rangesStarted = 0
    /// Smoothed seconds a request takes. Cutting a range costs the pages that read past the cuts; it pays only
    /// when requests wait on a distant server, not when a nearby one answers as fast as pages are parsed.
    private var roundTrip: Double?
    static let roundTripWorthCutting = 0.02

    /// Notes how long a request took.
    func noteRoundTrip(_ seconds: Double) {
        condition.lock()
        roundTrip = roundTrip.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
        condition.unlock()
    }
    private var pages: [[StorageObject]] = []
    private var failure: Error?
    private var stopped = false
    private let capacity: Int

    init(ranges: [KeyRange], capacity: Int) {
        pending = ranges.map { Work($0) }
        self.capacity = max(1, capacity)
    }

    /// The range as it stands (its end may have moved).
    func range(of work: Work) -> KeyRange {
        condition.lock()
        defer { condition.unlock() }
        return work.range
    }

    /// Lists with `workers` threads calling `list(worker, range)`; visits every delivered object here.
    func run(
        workers: Int, _ visit: (StorageObject) throws -> Void,
        list: @escaping @Sendable (Int, Work) throws -> Void
    ) throws {
        let done = DispatchSemaphore(value: 0)
        Thread { [self] in
            runThreads(workers) { [self] worker in
                while let work = next() {
                    do { try list(worker, work) } catch { fail(error) }
                    finished()
                }
            }
            done.signal()
        }.start()
        do {
            while let page = try take() {
                for object in page { try visit(object) }
            }
        } catch {
            fail(error)
        }
        done.wait()
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
    }

    private func next() -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && busy > 0 && !stopped {
            idle += 1
            condition.wait()
            idle -= 1
        }
        guard !stopped, !pending.isEmpty else { return nil }
        busy += 1
        rangesStarted += 1
        return pending.removeFirst()
    }

    private func finished() {
        condition.lock()
        busy -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func fail(_ error: Error) {
        condition.lock()
        if failure == nil && !(error is Stopped) { failure = error }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Hands a page to the visitor; waits while `capacity` pages are waiting.
    func deliver(_ objects: [StorageObject]) throws {
        condition.lock()
        defer { condition.unlock() }
        while pages.count >= capacity && !stopped { condition.wait() }
        if stopped { throw Stopped() }
        if !objects.isEmpty {
            pages.append(objects)
            condition.broadcast()
        }
    }

    private func take() throws -> [StorageObject]? {
        condition.lock()
        defer { condition.unlock() }
        while pages.isEmpty && !stopped && !(pending.isEmpty && busy == 0) { condition.wait() }
        if !pages.isEmpty {
            let page = pages.removeFirst()
            condition.broadcast()
            return page
        }
        return nil
    }

    /// When workers are waiting for work, cuts what remains of `work` (`cuts(end, count)` gives cuts strictly
    /// between the last key listed and the end) and queues the parts beyond the first cut.
    func shareOut(_ work: Work, cuts: (String?, Int) -> [String]) {
        condition.lock()
        defer { condition.unlock() }
        let wanted = idle - pending.count
        guard wanted > 0, !stopped, (roundTrip ?? 0) >= Self.roundTripWorthCutting else { return }
        let found = cuts(work.range.through, wanted)
        guard !found.isEmpty else { return }
        let ends: [String?] = Array(found.dropFirst()) + [work.range.through]
        for (cut, end) in zip(found, ends) { pending.append(Work(KeyRange(after: cut, through: end), isGuess: true)) }
        work.range.through = found[0]
        condition.broadcast()
    }
}

/// Reads objects with several workers, each with its own connection; results are handed to `each` on the
/// caller's thread as they come. The first failure stops the rest and is thrown.
enum ParallelReads {
    static func run(
        keys: [String], workers: Int, _ each: (String, Data) throws -> Void,
        reader: @escaping @Sendable (Int) throws -> (String) throws -> Data
    ) throws {
        final class State: @unchecked Sendable {
            let condition = NSCondition()
            var next = 0
            var results: [(String, Data)] = []
            var finished = 0
            var failure: Error?
        }
        let state = State()
        let done = DispatchSemaphore(value: 0)
        Thread {
            runThreads(workers) { worker in
                do {
                    let read = try reader(worker)
                    while true {
                        state.condition.lock()
                        guard state.failure == nil, state.next < keys.count else {
                            state.condition.unlock()
                            break
                        }
                        let key = keys[state.next]
                        state.next += 1
                        state.condition.unlock()
                        let data = try read(key)
                        state.condition.lock()
                        state.results.append((key, data))
                        state.condition.broadcast()
                        state.condition.unlock()
                    }
                } catch {
                    state.condition.lock()
                    if state.failure == nil { state.failure = error }
                    state.condition.unlock()
                }
                state.condition.lock()
                state.finished += 1
                state.condition.broadcast()
                state.condition.unlock()
            }
            done.signal()
        }.start()
        var caught: Error?
        while caught == nil {
            state.condition.lock()
            while state.results.isEmpty && state.finished < workers { state.condition.wait() }
            let batch = state.results
            state.results.removeAll()
            let over = state.finished == workers
            state.condition.unlock()
            do { for (key, data) in batch { try each(key, data) } } catch { caught = error }
            if over { break }
        }
        if let caught {
            state.condition.lock()
            if state.failure == nil { state.failure = caught }
            state.condition.unlock()
        }
        done.wait()
        if let caught { throw caught }
        if let failure = state.failure { throw failure }
    }
}
