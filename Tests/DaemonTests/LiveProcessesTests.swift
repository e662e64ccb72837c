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

    @Test func aProcessThatExitedIsNotAliveBeforeItIsReaped() throws {
        // posix_spawn, not Process: Foundation reaps its children at once.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        var state = ProcessState()
        state.pid = pid
        state.startTicks = Sandbox.startTime(pid: pid) ?? 0
        let live = LiveProcesses()
        #expect(live.isAlive(state))
        kill(pid, SIGKILL)
        var status: Int32 = 0
        #expect(waitid(P_PID, id_t(pid), nil, WEXITED | WNOWAIT) == 0)  // exited, left unreaped
        #expect(Sandbox.startTime(pid: pid) == state.startTicks, "a zombie is still in /proc")
        #expect(!live.isAlive(state))
        #expect(!live.isAlive(state), "asked again, once let go: the same answer")
        #expect(!LiveProcesses().isAlive(state), "first asked as a zombie: not alive either")
        waitpid(pid, &status, 0)
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
