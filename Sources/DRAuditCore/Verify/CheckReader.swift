import Foundation

/// Reads one object of a management plan as its bytes arrive and judges it against its `ObjectCheck`. Holds one
/// decoder at a time, whatever the object's size: bundles are walked slice by slice.
public final class CheckReader {
    public let check: ObjectCheck
    private var offset: Int64 = 0
    private var outcome = CheckOutcome()
    // .content
    private var slices: [ContentSlice] = []
    private var nextSlice = 0
    private var current: (slice: ContentSlice, checker: ContentChecker, end: Int64?)?
    private var currentFailed = false
    // .archive and .gzipStream
    private var archive: ArchiveChecker?
    private var inflater: Inflater?
    private var streamProblem: StreamProblem?

    public init(_ check: ObjectCheck) {
        self.check = check
        switch check {
        case .content(_, _, _, let slices): self.slices = slices
        case .archive(_, _, let format, _): archive = ArchiveChecker(format)
        case .gzipStream: inflater = Inflater(.gzip)
        }
    }

    /// Bytes read so far.
    public var bytes: Int64 { offset }

    /// Whether the rest of the object can be left unread (an archive or stream already broken).
    public var isDone: Bool { streamProblem != nil }

    public func feed(_ chunk: UnsafeRawBufferPointer) {
        defer { offset += Int64(chunk.count) }
        switch check {
        case .content(_, _, let encoding, _):
            feedContent(chunk, encoding: encoding)
        case .archive:
            guard streamProblem == nil else { return }
            do { try archive!.feed(chunk) } catch let problem as StreamProblem { streamProblem = problem } catch {}
        case .gzipStream:
            guard streamProblem == nil else { return }
            do { try inflater!.feed(chunk) { _ in } } catch let problem as StreamProblem {
                streamProblem = problem
            } catch {}
        }
    }

    private func feedContent(_ chunk: UnsafeRawBufferPointer, encoding: ContentChecker.Encoding) {
        var position = 0
        while position < chunk.count {
            let at = offset + Int64(position)
            if current == nil {
                guard nextSlice < slices.count else { return }  // bytes after the last slice: not judged
                let slice = slices[nextSlice]
                if at < slice.offset {
                    position += Int(min(Int64(chunk.count - position), slice.offset - at))
                    continue
                }
                nextSlice += 1
                currentFailed = false
                current = (slice, ContentChecker(encoding), slice.length.map { slice.offset + $0 })
            }
            let end = current!.end.map { Int(min(Int64(chunk.count), $0 - offset)) } ?? chunk.count
            let piece = UnsafeRawBufferPointer(rebasing: chunk[position..<end])
            if !currentFailed {
                do { try current!.checker.feed(piece) } catch {
                    currentFailed = true
                    outcome.problems.append(problem(current!.slice, error))
                }
            }
            position = end
            if let sliceEnd = current!.end, offset + Int64(position) >= sliceEnd { closeSlice() }
        }
    }

    private func closeSlice() {
        guard let (slice, checker, _) = current else { return }
        current = nil
        if currentFailed { return }
        do {
            let (size, sha1) = try checker.finish()
            outcome.contentBytes += size
            if size != slice.size {
                outcome.problems.append(
                    VerifyProblem(
                        "MGMT_CHECKSUM_MISMATCH", backupID: slice.backupID,
                        "\(slice.name) (\(check.key)) holds \(size) bytes; the manifest records size \(slice.size)"))
            } else if let expected = slice.checksum, expected != sha1 {
                outcome.problems.append(
                    VerifyProblem(
                        "MGMT_CHECKSUM_MISMATCH", backupID: slice.backupID,
                        "\(slice.name) (\(check.key)) has SHA-1 \(sha1); the manifest records \(expected)"))
            }
        } catch {
            outcome.problems.append(problem(slice, error))
        }
    }

    private func problem(_ slice: ContentSlice, _ error: Error) -> VerifyProblem {
        let within = slice.offset > 0 || slice.length != nil ? " at bundle byte \(slice.offset)" : ""
        return VerifyProblem(
            "MGMT_CHECKSUM_MISMATCH", backupID: slice.backupID,
            "\(slice.name) (\(check.key)\(within)) cannot be decoded: \(error)")
    }

    /// The object ended; judge what was read.
    public func finish() -> CheckOutcome {
        switch check {
        case .content(let key, _, _, _):
            closeSlice()
            // Slices the object never reached: the bundle is shorter than its manifest says.
            for slice in slices[nextSlice...] {
                outcome.problems.append(
                    VerifyProblem(
                        "MGMT_FILE_MISSING", backupID: slice.backupID,
                        "\(slice.name) lies past the end of \(key) (\(offset) bytes)"))
            }
            nextSlice = slices.count
        case .archive(let key, _, _, let backupID):
            let summary = archive!.finish()
            outcome.tarContentBytes = summary.contentBytes
            outcome.contentBytes = summary.uncompressedBytes
            if let problem = summary.problem {
                outcome.problems = [VerifyProblem("ARCHIVE_CORRUPT", backupID: backupID, "\(key): \(problem.message)")]
            }
        case .gzipStream(let key, _, let backupID):
            if streamProblem == nil {
                do { try inflater!.finish() } catch let problem as StreamProblem { streamProblem = problem } catch {}
            }
            outcome.contentBytes = inflater!.uncompressedBytes
            if let problem = streamProblem {
                outcome.problems = [VerifyProblem("ARCHIVE_CORRUPT", backupID: backupID, "\(key): \(problem.message)")]
            }
        }
        return outcome
    }
}
