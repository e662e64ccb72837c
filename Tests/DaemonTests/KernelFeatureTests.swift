import Foundation
import Glibc
import Logging
import Testing

@testable import Daemon

/// A kernel that lacks some features.
struct FakeKernel: KernelProbe {
    var missing: Set<KernelFeature>
    func supports(_ feature: KernelFeature) -> Bool { !missing.contains(feature) }
}

@Suite struct KernelFeatureTests {
    /// Settings that would put everything under a directory of the test's own, were the agent to start.
    func configuration(_ directory: String) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        configuration.stateDirectory = directory + "/state"
        configuration.bpfRoot = directory + "/bpf"
        configuration.socketPath = directory + "/agent.sock"
        return configuration
    }

    @Test func theAgentRefusesToStartOnAKernelWithoutAFeatureItNeeds() async throws {
        let directory = NSTemporaryDirectory() + "bridgeport-kernel-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let error = await #expect(throws: AgentError.self) {
            try await AgentService.run(
                configuration: configuration(directory), logger: Logger(label: "test"),
                kernel: FakeKernel(missing: [.fibLookupSource]))
        }
        let message = error.map { "\($0)" } ?? ""
        #expect(
            message.contains(
                "lacks what Bridgeport's programs need: bpf_fib_lookup with BPF_FIB_LOOKUP_SRC (Linux 6.7): masquerade"),
            "\(message)")
        #expect(message.contains(KernelRequirements.release))
        #expect(!message.contains("tcx"), "only what is missing is named")
        #expect(!FileManager.default.fileExists(atPath: directory), "it refuses before it makes anything")
    }

    @Test func everyMissingFeatureIsNamedWithItsRelease() throws {
        let error = #expect(throws: AgentError.self) {
            try KernelRequirements.check(AgentConfiguration(), kernel: FakeKernel(missing: Set(KernelFeature.allCases)))
        }
        let message = error.map { "\($0)" } ?? ""
        for feature in KernelFeature.allCases {
            #expect(message.contains("\(feature.name) (\(feature.since))"), "\(message)")
        }
    }

    /// tcx is needed by the tcx attach mode alone (the default on uplinks); with clsact it is not.
    @Test func tcxIsNeededOnlyWhereAnAttachModeUsesIt() throws {
        var configuration = AgentConfiguration()
        #expect(KernelRequirements.needed(configuration).contains(.tcx))
        configuration.attachMode = .tc
        #expect(!KernelRequirements.needed(configuration).contains(.tcx))
        try KernelRequirements.check(configuration, kernel: FakeKernel(missing: [.tcx]))
        configuration.attachMode = .tcx
        #expect(throws: AgentError.self) {
            try KernelRequirements.check(configuration, kernel: FakeKernel(missing: [.tcx]))
        }
    }

    /// The real probes on the running kernel (the tests need Linux 6.7 or later, as the agent does).
    @Test(.enabled(if: getuid() == 0)) func theRunningKernelHasEveryFeature() throws {
        for feature in KernelFeature.allCases { #expect(try SystemKernelProbe().supports(feature), "\(feature.name)") }
    }
}
