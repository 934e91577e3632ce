import Foundation
import Testing

@testable import DRAuditCore

/// Inputs `make fuzz` found crashing dr-audit, kept so they never come back.
struct FuzzFindingsTests {
    @Test func aLongRunOfDigitsInABarmanFolderIsNotABackup() {
        // Overflowed Int while reading the digits: one odd folder on storage ended the whole scan.
        let key = "mgmt-db/base/20230918T100000001000000000000000101612/backup.info"
        #expect(Classifier.classify(key, role: .management) == .unrecognized)
        #expect(Barman.parseBackupID("20230918000000000000000000000000T101612") == nil)
        #expect(UTC.date(ymd: "99999999999999999999999", hms: "101612") == nil)
        #expect(PgBackRest.parseLabel("20210420-1223329999999999999999F") == nil)
    }

    @Test(arguments: [
        // An element name that is not UTF-8: Foundation's XMLParser trapped.
        Data("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message".utf8) + Data([0xEC])
            + Data("Please reduce your request rate.</Message></Error>\n".utf8),
        // Processing instructions: XMLParser dereferenced NULL for one without data.
        Data("<?o?>b>\n".utf8),
        Data("<?xml version=\"1.0\" enco'ing=\"U+F-8\"g=\"U+F encor><k/1=</NextCon<?xISO-1064?>\n<La".utf8),
        Data("<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult>&a;</ListBucketResult>".utf8),
    ])
    func garbledS3BodiesAreErrorsNotCrashes(body: Data) {
        #expect(throws: S3XML.XMLError.self) { try S3XML.parseList(body) }
        #expect(S3XML.parseError(body) == nil)
    }

    @Test func aProcessingInstructionIsIgnored() throws {
        // It crashed Foundation's XMLParser; libxml2 read directly skips it like any reader of the page would.
        let page = try S3XML.parseList(
            Data("<?xml version=\"1.0\"?><ListBucketResult><?pi data?></ListBucketResult>".utf8))
        #expect(page.objects.isEmpty && !page.isTruncated)
    }

    @Test func aDeclaredPageStillParses() throws {
        let page = try S3XML.parseList(
            Data(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <!-- a comment is fine --><ListBucketResult><IsTruncated>false</IsTruncated>\
                <Contents><Key>p/é@o@c-20230920.020000.tar.gz</Key><Size>1</Size></Contents></ListBucketResult>
                """.utf8))
        #expect(page.objects.map(\.key) == ["p/é@o@c-20230920.020000.tar.gz"])
    }
}
