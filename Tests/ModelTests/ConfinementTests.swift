import Model
import Testing

/// --cap-add, --cap-drop and --privileged, as Docker's TweakCapabilities reads them.
@Suite struct ConfinementRules {
    static let dockerDefault: UInt64 = 0xa804_25fb  // CapEff of a default Docker container

    @Test func dockersDefaultSet() throws {
        #expect(Confinement().capabilities == Self.dockerDefault)
    }

    @Test func addAndDrop() throws {
        let netAdmin: UInt64 = 1 << 12
        let chown: UInt64 = 1 << 0
        #expect(
            try Confinement(capAdd: ["net_admin"], capDrop: [], privileged: false).capabilities == Self.dockerDefault
                | netAdmin)
        #expect(
            try Confinement(capAdd: [], capDrop: ["CAP_CHOWN"], privileged: false).capabilities == Self.dockerDefault
                & ~chown)
        #expect(
            try Confinement(capAdd: ["NET_BIND_SERVICE"], capDrop: ["ALL"], privileged: false).capabilities == 1 << 10)
        #expect(
            try Confinement(capAdd: ["CHOWN"], capDrop: ["CHOWN"], privileged: false).capabilities
                == Self.dockerDefault, "adds win")
        let all: UInt64 = (1 << 41) - 1
        #expect(try Confinement(capAdd: ["ALL"], capDrop: ["NET_RAW"], privileged: false).capabilities == all)
        #expect(try Confinement(capAdd: [], capDrop: ["ALL"], privileged: true).capabilities == all)
    }

    @Test func unknownCapabilitiesAreRefused() throws {
        #expect(throws: ModelError.invalidFlag("--cap-add", "foo", "unknown capability: \"CAP_FOO\"")) {
            try Confinement(capAdd: ["foo"], capDrop: [], privileged: false)
        }
        #expect(throws: ModelError.self) { try Confinement(capAdd: [], capDrop: ["CAP_NOPE"], privileged: false) }
        #expect(try ContainerRequest().confinement() == nil)
    }
}
