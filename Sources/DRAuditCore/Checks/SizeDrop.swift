import Foundation

/// BACKUP_SIZE_DROP: the cheap signal, without a download, that a backup quietly lost its content. A portal file
/// under half the median size of its site's (or the system backup's) previous backups, and a management full
/// backup under half the previous full's size.
public enum SizeDrop {
    /// How many earlier backups of the same site the median is taken over.
    public static let window = 7
    /// Fewer earlier backups than this give no median worth comparing against.
    public static let minimumHistory = 3

    public static func findings(portal: PortalInventory, management: [ManagementBackup]) -> [Finding] {
        portalFindings(portal) + managementFindings(management)
    }

    /// One pass over the inventory in time order, with each site's last `window` non-empty sizes in a ring.
    /// Empty files are OBJECT_EMPTY's business: they are neither judged nor counted.
    static func portalFindings(_ inventory: PortalInventory) -> [Finding] {
        let inventory = inventory.sorted()
        let slots = inventory.sites.count + 1  // the system backup is the last slot
        var ring = [Int64](repeating: 0, count: slots * window)
        var count = [Int](repeating: 0, count: slots)
        var findings: [Finding] = []
        var scratch = [Int64](repeating: 0, count: window)
        for (index, entry) in inventory.entries.enumerated() where entry.size > 0 {
            let slot = entry.isSystem ? slots - 1 : Int(entry.site)
            let held = min(count[slot], window)
            let base = slot * window
            if held >= minimumHistory {
                // The median cannot exceed the largest size: most files pass this test without a sort.
                var largest: Int64 = 0
                for k in 0..<held { largest = max(largest, ring[base + k]) }
                if entry.size * 2 < largest {
                    for k in 0..<held { scratch[k] = ring[base + k] }
                    scratch[0..<held].sort()
                    let median =
                        held % 2 == 1 ? scratch[held / 2] : (scratch[held / 2 - 1] + scratch[held / 2]) / 2
                    if entry.size * 2 < median {
                        let file = inventory.file(index)
                        let whose = entry.isSystem ? "the system backup's" : "site \(file.site ?? "?")'s"
                        findings.append(
                            Finding(
                                "BACKUP_SIZE_DROP", .warn, file.key,
                                "portal backup \(file.key) is \(entry.size) bytes, under half the median (\(median) bytes) of \(whose) previous \(held) backups"
                            ))
                    }
                }
            }
            ring[base + count[slot] % window] = entry.size
            count[slot] += 1
        }
        return findings
    }

    /// Each full backup against the previous full (in time) that recorded a size.
    static func managementFindings(_ backups: [ManagementBackup]) -> [Finding] {
        var previous: ManagementBackup?
        var findings: [Finding] = []
        for backup in backups.filter({ $0.type == "full" && $0.status == .complete && $0.size != nil })
            .sorted(by: { $0.time < $1.time })
        {
            if let previous, let before = previous.size, let now = backup.size, now * 2 < before {
                findings.append(
                    Finding(
                        "BACKUP_SIZE_DROP", .warn, "management \(backup.id)",
                        "management full backup \(backup.id) is \(now) bytes, under half the previous full backup \(previous.id) (\(before) bytes)"
                    ))
            }
            previous = backup
        }
        return findings
    }
}
