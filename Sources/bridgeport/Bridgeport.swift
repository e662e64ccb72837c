import API
import ArgumentParser
import FoundationEssentials
import Glibc
import Model

@main
struct Bridgeport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridgeport",
        abstract: "Docker-style container networks whose packet path is eBPF instead of iptables.",
        version: bridgeportVersion,
        subcommands: [
            DaemonCommand.self, NetworkCommand.self,
            Run.self, Ps.self, Inspect.self, Exec.self, Logs.self, Port.self, Stats.self, Flows.self, Monitor.self,
            Stop.self, Start.self, Restart.self, Rm.self,
        ])

    /// Docker's exit codes: 125 when the CLI or the daemon refuses a `run`, 1 for other
    /// daemon errors, 126/127 when the container's command can't be run.
    static func main() async {
        do {
            var command = try parseAsRoot(GoBoolFlags.normalized(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as Failure {
            if !failure.message.isEmpty { printError(failure.message) }
            Glibc.exit(failure.code)
        } catch let error as ClientError {
            printError(error.isAgentDown ? error.description : "Error response from daemon: \(error.description)")
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            printError(fullMessage(for: error))
            Glibc.exit(125)
        }
    }
}

/// A command's failure with the exit code Docker gives it.
struct Failure: Error {
    var message: String
    var code: Int32
}

/// A `--filter` as Docker reports one it refuses: a value without '=' is the CLI's (exit 125,
/// as any bad flag value), the others the daemon's (exit 1).
func filterOrFailure<Filter>(_ command: String, _ parse: () throws(ModelError) -> Filter) throws -> Filter {
    do {
        return try parse()
    } catch .invalidFlag(let flag, let value, let message) {
        let error = ModelError.invalidFlag(flag, value, message)
        throw Failure(message: "\(error)\nSee 'bridgeport \(command) --help'.", code: 125)
    } catch {
        throw Failure(message: "Error response from daemon: \(error)", code: 1)
    }
}

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The agent's API socket (default: $BRIDGEPORT_SOCKET or /run/bridgeport.sock).")
    var socket: String?

    var client: AgentClient { AgentClient(socketPath: socket) }
}

extension ClientError {
    var isAgentDown: Bool { if case .agentNotRunning = self { true } else { false } }
}

func printError(_ message: String) {
    writeAll(Data((message + "\n").utf8), to: STDERR_FILENO)
}

/// --format of the listing commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    /// One JSON object per line.
    case json

    /// Encodes one line of --format json: keys sorted, slashes as they are (Go's encoding/json).
    static func line(_ value: some Encodable) throws -> String {
        String(decoding: try lineEncoder.encode(value), as: UTF8.self)
    }

    private static let lineEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension ErrorKind {
    /// Docker's exit code when `run` fails with it.
    var exitCode: Int32 {
        switch self {
        case .commandNotFound: 127
        case .commandNotExecutable: 126
        }
    }
}
