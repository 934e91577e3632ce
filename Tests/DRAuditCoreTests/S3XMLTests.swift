import Foundation
import Testing

@testable import DRAuditCore

/// The ListObjectsV2 page and error-body reader over libxml2's SAX2 interface.
struct S3XMLTests {
    @Test func valuesAreReadAsAnyXMLReaderWouldReadThem() throws {
        let page = try S3XML.parseList(
            Data(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">
                  <s3:IsTruncated>
                    true
                  </s3:IsTruncated>
                  <s3:Contents>
                    <s3:Key>p/&#x73;ite&amp;<![CDATA[<x>]]>.tar.gz</s3:Key>
                    <s3:Owner><s3:ID>o</s3:ID><s3:Key>not the object's</s3:Key></s3:Owner>
                    <s3:Size>
                      42
                    </s3:Size>
                    <s3:LastModified> 2026-01-01T01:00:00.000Z </s3:LastModified>
                  </s3:Contents>
                  <s3:Contents><s3:Key> spaced key </s3:Key><s3:Size>0</s3:Size></s3:Contents>
                  <s3:NextContinuationToken>t&lt;1&gt;</s3:NextContinuationToken>
                </s3:ListBucketResult>
                """.utf8))
        // Keys keep their spaces (they are part of the name); sizes, flags and times do not.
        #expect(page.objects.map(\.key) == ["p/site&<x>.tar.gz", " spaced key "])
        #expect(page.objects.map(\.size) == [42, 0])
        #expect(page.objects[0].lastModified == UTC.parseRFC3339("2026-01-01T01:00:00Z"))
        #expect(page.objects[1].lastModified == nil)
        #expect(page.isTruncated)
        #expect(page.nextContinuationToken == "t<1>")
    }

    @Test func onlyContentsEntriesAreObjects() throws {
        let page = try S3XML.parseList(
            Data(
                """
                <ListBucketResult><Key>root</Key><CommonPrefixes><Prefix>p/</Prefix><Key>x</Key><Size>1</Size></CommonPrefixes>
                <Contents><Key>a</Key><Size>1</Size></Contents><Other><Contents><Key>b</Key><Size>2</Size></Contents></Other>
                </ListBucketResult>
                """.utf8))
        #expect(page.objects.map(\.key) == ["a"])
        #expect(try S3XML.parseList(Data("<ListBucketResult/>".utf8)).objects.isEmpty)
    }

    @Test(arguments: [
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>1 2</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>",
        "<ListBucketResult><Contents><Key>a</Size></Contents></ListBucketResult>",
        "<ListBucketResult>&undeclared;</ListBucketResult>",
        "<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>",
        "",
    ])
    func brokenPagesAreErrors(body: String) {
        #expect(throws: S3XML.XMLError.self) { try S3XML.parseList(Data(body.utf8)) }
    }

    @Test func aTruncatedPageSaysWhereItStopped() {
        let body = Data("<?xml version=\"1.0\"?>\n<ListBucketResult><Contents><Key>a</Key>".utf8)
        #expect {
            try S3XML.parseList(body)
        } throws: { error in
            (error as? S3XML.XMLError)?.description.hasPrefix("truncated or malformed XML (line 2,") == true
        }
    }

    @Test func errorBodies() {
        #expect(
            S3XML.parseError(Data("<Error><Code>SlowDown</Code></Error>".utf8)) == .init(code: "SlowDown", message: nil)
        )
        #expect(
            S3XML.parseError(Data("<Error><Message>m &amp; n</Message><Code>AccessDenied</Code></Error>".utf8))
                == .init(code: "AccessDenied", message: "m & n"))
        #expect(S3XML.parseError(Data("<Error><Message>no code</Message></Error>".utf8)) == nil)
        #expect(S3XML.parseError(Data("<Error><Code>x</Code>".utf8)) == nil)
        #expect(S3XML.parseError(Data("<ListBucketResult/>".utf8)) == nil)
    }
}
