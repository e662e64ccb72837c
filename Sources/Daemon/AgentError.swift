import API
import Model

/// Failures of the agent itself (the model's are ModelError). Each says what to do.
public enum AgentError: Error, CustomStringConvertible {
    case containerRunning(String)
    case containerNotRunning(String)
    case commandNotFound(String)
    case commandNotExecutable(String)
    /// A runtime named a network namespace that is not there.
    case namespaceNotFound(String)
    /// dockerd left out something the driver needs (`call`, what is missing).
    case incompleteDriverRequest(call: String, missing: String)
    case startup(String)
    case cluster(String)
    case attachmentNotFound(String)

    public var description: String {
        switch self {
        case .containerRunning(let name):
            "cannot remove container \"/\(name)\": container is running: "
                + "stop the container before removing or force remove (rm -f)"
        case .containerNotRunning(let name): "container \(name) is not running"
        case .commandNotFound(let command): "exec: \"\(command)\": executable file not found in $PATH"
        case .commandNotExecutable(let command): "exec: \"\(command)\": permission denied"
        case .namespaceNotFound(let path): "the network namespace \(path) does not exist"
        case .incompleteDriverRequest(let call, let missing): "\(call) gave no \(missing)"
        case .startup(let message): message
        case .cluster(let message): message
        case .attachmentNotFound(let id): "no attachment \(id): Bridgeport equips no such container interface"
        }
    }

    /// What the client tells apart (the CLI exits 127/126 on these, as Docker does).
    public var kind: ErrorKind? {
        switch self {
        case .commandNotFound: .commandNotFound
        case .commandNotExecutable: .commandNotExecutable
        default: nil
        }
    }
}
