import Foundation
import Testing

@testable import DRAuditCore

struct ManagementRecordTests {
    func objects(_ keys: [String: Int64]) -> [(object: StorageObject, kind: ObjectKind)] {
        keys.keys.sorted().map { key in
            (StorageObject(key: key, size: keys[key]!, mtime: nil), Classifier.classify(key, role: .management))
        }
    }

    static let info = """
        [backup:current]
        20210420-122332F={"backup-error":false,"backup-prior":null,"backup-timestamp-start":1618921412,"backup-timestamp-stop":1618921500,"backup-type":"full"}
        20210420-122332F_20210421-010001I={"backup-error":false,"backup-prior":"20210420-122332F","backup-timestamp-start":1618966801,"backup-timestamp-stop":1618966900,"backup-type":"incr"}
        20210420-122332F_20210422-010001I={"backup-error":true,"backup-prior":"20210420-122332F_20210421-010001I","backup-timestamp-start":1619053201,"backup-timestamp-stop":1619053300,"backup-type":"incr"}
        20210420-122332F_20210423-010001D={"backup-error":false,"backup-prior":"20210420-122332F","backup-timestamp-start":1619139601,"backup-timestamp-stop":1619139700,"backup-type":"diff"}
        """

    @Test func pgBackRestRecordsFollowBackupInfoAndManifests() throws {
        let objs = objects([
            "backup/apic/backup.info": 900, "backup/apic/backup.info.copy": 900,
            "backup/apic/20210420-122332F/backup.manifest": 50,
            "backup/apic/20210420-122332F_20210421-010001I/backup.manifest": 50,
            "backup/apic/20210420-122332F_20210422-010001I/backup.manifest": 50,
            // the diff's manifest is missing
            "backup/apic/20210420-122332F_20210423-010001D/pg_data/x.gz": 10,
            // interrupted: data but not in backup.info
            "backup/apic/20210420-122332F_20210424-010001I/pg_data/x.gz": 10,
        ])
        #expect(Classifier.metadataKeys(objs) == ["backup/apic/backup.info", "backup/apic/backup.info.copy"])
        let records = Classifier.managementBackups(objs, contents: ["backup/apic/backup.info": Self.info])
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
        #expect(records.count == 5)
        #expect(byID["20210420-122332F"]?.status == .complete)
        #expect(byID["20210420-122332F"]?.time == Date(timeIntervalSince1970: 1_618_921_500))
        #expect(byID["20210420-122332F_20210421-010001I"]?.status == .complete)
        #expect(byID["20210420-122332F_20210422-010001I"]?.status == .failed)
        #expect(byID["20210420-122332F_20210423-010001D"]?.status == .incomplete)
        #expect(byID["20210420-122332F_20210423-010001D"]?.detail?.contains("backup.manifest missing") == true)
        #expect(byID["20210420-122332F_20210424-010001I"]?.status == .incomplete)
        #expect(byID["20210420-122332F_20210424-010001I"]?.detail?.contains("not listed") == true)
        #expect(
            Pairing.restorable(records).map(\.id).sorted() == ["20210420-122332F", "20210420-122332F_20210421-010001I"])
    }

    @Test func copyStandsInForAnUnreadableBackupInfo() {
        let objs = objects([
            "backup/apic/backup.info": 0, "backup/apic/backup.info.copy": 900,
            "backup/apic/20210420-122332F/backup.manifest": 50,
        ])
        #expect(Classifier.metadataKeys(objs) == ["backup/apic/backup.info.copy"])
        let records = Classifier.managementBackups(objs, contents: ["backup/apic/backup.info.copy": Self.info])
        #expect(records.first { $0.id == "20210420-122332F" }?.status == .complete)
    }

    @Test func garbledBackupInfoLeavesEveryLabelIncomplete() {
        let objs = objects(["backup/apic/backup.info": 10, "backup/apic/20210420-122332F/backup.manifest": 50])
        let records = Classifier.managementBackups(
            objs, contents: ["backup/apic/backup.info": "[backup:current]\n20210420-122332F={garbage"])
        #expect(records.count == 1)
        #expect(records[0].status == .incomplete)
        #expect(records[0].detail?.contains("backup/apic/backup.info") == true)
    }

    @Test func emptyManifestIsIncomplete() {
        let objs = objects(["backup/apic/backup.info": 10, "backup/apic/20210420-122332F/backup.manifest": 0])
        let records = Classifier.managementBackups(objs, contents: ["backup/apic/backup.info": Self.info])
        #expect(records.first { $0.id == "20210420-122332F" }?.status == .incomplete)
    }

    @Test func barmanStatuses() {
        let server = "management-0e88ecfa-db-2023-08-03T09:37:36Z"
        let objs = objects([
            "\(server)/base/20230918T101612/backup.info": 300, "\(server)/base/20230918T101612/data.tar.gz": 9000,
            "\(server)/base/20230919T101612/backup.info": 300, "\(server)/base/20230919T101612/data.tar.gz": 9000,
            "\(server)/base/20230920T101612/backup.info": 300,
            "\(server)/wals/0000000100000000/000000010000000000000001.gz": 100,
        ])
        let records = Classifier.managementBackups(
            objs,
            contents: [
                "\(server)/base/20230918T101612/backup.info":
                    "status=DONE\nbegin_time=2023-09-18 10:16:13+00:00\nend_time=2023-09-18 10:20:00+00:00\n",
                "\(server)/base/20230919T101612/backup.info": "status=FAILED\nerror=failure uploading data\n",
                "\(server)/base/20230920T101612/backup.info": "status=DONE\n",
            ])
        let byID = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0) })
        #expect(byID["\(server)/20230918T101612"]?.status == .complete)
        #expect(byID["\(server)/20230918T101612"]?.time == utc("2023-09-18T10:20:00Z"))
        #expect(byID["\(server)/20230919T101612"]?.status == .failed)
        #expect(byID["\(server)/20230919T101612"]?.detail?.contains("failure uploading") == true)
        #expect(byID["\(server)/20230920T101612"]?.status == .incomplete)
    }
}
