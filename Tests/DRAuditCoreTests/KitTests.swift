import Foundation
import Testing

@testable import DRAuditCore

/// The DR kit against the live cluster: field drift, Secret digests, and the kit's age.
struct KitTests {
    let now = utc("2026-01-31T12:00:00Z")

    func portalCR() throws -> SubsystemCR {
        try SubsystemCR.parse(
            yamlish([
                "kind": "PortalCluster", "metadata": ["name": "portal"],
                "spec": [
                    "version": "10.0.5.8", "originalUID": "uid-1",
                    "encryptionSecret": ["secretName": "apic-ptl-enc-key"],
                    "portalAdminEndpoint": ["hosts": [["name": "api.portal.example.com"]]],
                    "portalUIEndpoint": ["hosts": [["name": "portal.example.com"]]],
                    "portalBackup": [
                        "protocol": "sftp", "host": "sftp.example.com", "port": "22", "path": "/b",
                        "credentials": "portal-backup-secret", "schedule": "0 1 * * *",
                    ],
                ],
            ]), role: .portal)
    }

    func state(
        saved: SubsystemCR, live: SubsystemCR, secrets: [Kit.SavedSecret] = [], liveSecrets: [Kit.LiveSecret] = []
    )
        -> Kit.State
    {
        Kit.State(
            saved: [Kit.Saved(role: .portal, cr: saved, crFile: "portal_cr.yaml", secrets: secrets)],
            live: [
                Kit.LiveSubsystem(
                    role: .portal, kind: live.kind, name: live.name, fields: live.drFields, secrets: liveSecrets)
            ], savedAt: now.addingTimeInterval(-3600), oldestFile: "portal_cr.yaml", maxAge: Kit.defaultMaxAge)
    }

    @Test func aKitThatMatchesTheClusterHasNoFindings() throws {
        let cr = try portalCR()
        #expect(Kit.findings(state(saved: cr, live: cr), now: now).isEmpty)
    }

    /// Every DR-relevant field, changed alone on the live CR, is named in one DR_KIT_STALE (warn).
    @Test func eachDriftedFieldIsNamed() throws {
        let saved = try portalCR()
        let changes: [(String, (inout SubsystemCR) -> Void)] = [
            ("name", { $0.name = "portal2" }),
            ("originalUID", { $0.originalUID = "uid-2" }),
            ("version", { $0.version = "10.0.5.9" }),
            ("endpoints", { $0.endpoints.insert("new.example.com") }),
            ("backup.protocol", { $0.backup.protocol = "objstore" }),
            ("backup.host", { $0.backup.host = "other.example.com" }),
            ("backup.port", { $0.backup.port = 2222 }),
            ("backup.path", { $0.backup.path = "/elsewhere" }),
            ("backup.credentials", { $0.backup.credentials = "other-secret" }),
            ("schedule", { $0.backup.schedule = "" }),
            ("encryptionSecret", { $0.encryptionSecretName = "other-enc-key" }),
        ]
        for (field, change) in changes {
            var live = saved
            change(&live)
            #expect(Kit.changedFields(saved: saved.drFields, live: live.drFields) == [field])
            let findings = Kit.findings(state(saved: saved, live: live), now: now)
            #expect(findings.map(\.code) == ["DR_KIT_STALE"], "\(field)")
            #expect(findings.first?.severity == .warn)
            #expect(findings.first?.message.contains(" in \(field) (saved ") == true, "\(findings)")
        }
    }

    @Test func anEmptyScheduleIsNotTheSameAsNoSchedule() throws {
        var a = try portalCR()
        var b = a
        a.backup.schedule = ""
        b.backup.schedule = nil
        #expect(Kit.changedFields(saved: a.drFields, live: b.drFields) == ["schedule"])
    }

    /// A snapshot written by an older dr-audit lacks newer fields: they are not reported as changed.
    @Test func fieldsOnlyOneSideKnowsAreNotCompared() throws {
        let cr = try portalCR()
        var old = cr.drFields
        old["version"] = nil
        old["some.future.field"] = "x"
        #expect(Kit.changedFields(saved: cr.drFields, live: old).isEmpty)
    }

    @Test func secretDigestsAreSaltedAndNeverShowTheValue() {
        let salt = Data("0123456789abcdef".utf8)
        let values = ["password": Data("hunter2-secret".utf8), "username": Data("auditor".utf8)]
        let digest = Kit.digest(values, salt: salt)
        #expect(digest.hasPrefix("sha256:") && digest.count == 71)
        #expect(Kit.digest(values, salt: salt) == digest)
        #expect(Kit.digest(values, salt: Data("another salt....".utf8)) != digest)
        var changed = values
        changed["password"] = Data("hunter3-secret".utf8)
        #expect(Kit.digest(changed, salt: salt) != digest)
        // Where one key ends and its value begins is part of the input.
        #expect(Kit.digest(["ab": Data("c".utf8)], salt: salt) != Kit.digest(["a": Data("bc".utf8)], salt: salt))
        #expect(!digest.contains("hunter2") && !digest.contains(Data("hunter2-secret".utf8).base64EncodedString()))
        // The well-known SHA-256 of the empty input: libcrypto is called as it should be.
        #expect(
            Kit.digest([:], salt: Data())
                == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func aSecretThatChangedIsStaleAndSaysOnlyChanged() throws {
        let cr = try portalCR()
        let salt = Data("salt".utf8).base64EncodedString()
        let savedDigest = Kit.digest(["password": Data("old-value".utf8)], salt: Data("salt".utf8))
        let liveDigest = Kit.digest(["password": Data("new-value".utf8)], salt: Data("salt".utf8))
        let saved = [
            Kit.SavedSecret(purpose: .backup, file: "s.yaml", name: "portal-backup-secret", digest: savedDigest)
        ]
        func findings(_ live: Kit.LiveSecret) -> [Finding] {
            Kit.findings(state(saved: cr, live: cr, secrets: saved, liveSecrets: [live]), now: now)
        }
        #expect(
            findings(.init(purpose: .backup, name: "portal-backup-secret", salt: salt, digest: savedDigest)).isEmpty)
        let changed = findings(.init(purpose: .backup, name: "portal-backup-secret", salt: salt, digest: liveDigest))
        #expect(changed.map(\.code) == ["DR_KIT_STALE"])
        #expect(changed[0].message.contains("data changed"))
        #expect(!changed[0].message.contains("old-value") && !changed[0].message.contains("new-value"))
        #expect(!changed[0].message.contains("sha256:"))
        let gone = findings(.init(purpose: .backup, name: "portal-backup-secret", salt: salt, digest: nil))
        #expect(gone.first?.message.contains("no longer exists") == true)
        let renamed = findings(.init(purpose: .backup, name: "new-secret", salt: salt, digest: liveDigest))
        #expect(renamed.first?.message.contains("now names the Secret new-secret") == true)
    }

    @Test func withoutALiveReadNothingIsCompared() throws {
        let cr = try portalCR()
        var s = state(saved: cr, live: cr)
        s.saved[0].cr!.backup.host = "changed.example.com"
        s.live = nil
        #expect(Kit.findings(s, now: now).isEmpty)
    }

    @Test func anOldKitIsInfoAndItsAgeReachesTheAssessment() throws {
        let cr = try portalCR()
        var s = state(saved: cr, live: cr)
        s.savedAt = now.addingTimeInterval(-31 * 86400)
        let findings = Kit.findings(s, now: now)
        #expect(findings.map(\.code) == ["DR_KIT_OLD"])
        #expect(findings[0].severity == .info)
        #expect(findings[0].message.contains("over kit.maxAge 30d"))
        s.maxAge = 40 * 86400
        #expect(Kit.findings(s, now: now).isEmpty)

        var input = AuditInput(now: now, policy: PairingPolicy(tolerance: 1800, rpo: 93600))
        input.kit = s
        let assessment = Audit.assess(input)
        #expect(assessment.kitSavedAt == s.savedAt)
        let prom = Metrics.render(assessment, sources: [], now: now)
        #expect(prom.contains("dr_audit_kit_age_seconds 2678400\n"))
        #expect(
            Metrics.render(Audit.assess(AuditInput(now: now, policy: input.policy)), sources: [], now: now).contains(
                "dr_audit_kit_age_seconds -1\n"))
        let report = Report(assessment: assessment, now: now, policy: input.policy)
        #expect(report.markdown().contains("- DR kit: saved 2025-12-31T12:00:00Z (31d old)"))
        #expect(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any] != nil)
        #expect(report.json().contains("\"kitAgeSeconds\" : 2678400"))
    }
}
