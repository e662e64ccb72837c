import Foundation
import Links
import Model
import Testing

@testable import Daemon

/// Container liveness: found in /proc once, then asked through a pidfd.
@Suite struct LiveProcessesTests {
    func started() throws -> (Process, ProcessState) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["30"]
        try process.run()
        var state = ProcessState()
        state.pid = process.processIdentifier
        state.startTicks = Sandbox.startTime(pid: state.pid) ?? 0
        return (process, state)
    }

    @Test func aRunningProcessIsAliveUntilItEnds() throws {
        let live = LiveProcesses()
        let (process, state) = try started()
        #expect(live.isAlive(state))
        #expect(live.isAlive(state), "asked again: through its pidfd")
        kill(process.processIdentifier, SIGKILL)  // SIGTERM may be blocked in the test runner
        process.waitUntilExit()
        #expect(!live.isAlive(state))
        #expect(!live.isAlive(state))
    }

    @Test func anotherStartTimeIsAnotherProcess() throws {
        let live = LiveProcesses()
        let (process, state) = try started()
        defer {
            kill(process.processIdentifier, SIGKILL)  // SIGTERM may be blocked in the test runner
            process.waitUntilExit()
        }
        var reused = state
        reused.startTicks += 1
        #expect(!live.isAlive(reused))
        #expect(live.isAlive(state))
        live.keep(only: [])
        #expect(live.isAlive(state), "let go, it is found in /proc again")
    }
}
