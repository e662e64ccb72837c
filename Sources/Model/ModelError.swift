/// Everything a user can get wrong, each with a one-line message that names the value and
/// the rule. The agent returns these to the CLI as they are.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidCIDR(String, String)
    case invalidIP(String, String)
    case invalidPortSpec(String, String)
    case invalidName(String, String)
    case invalidOption(String, String)
    case networkExists(String)
    case networkNotFound(String)
    case containerExists(String)
    case containerNotFound(String)
    case poolOverlap(IPv4Network, with: String)
    case poolsExhausted
    case addressesExhausted(network: String)
    case addressInUse(IPv4Address, network: String)
    case addressOutsideSubnet(IPv4Address, IPv4Network)
    case ipOnDefaultNetwork
    case ipWithoutSubnet(network: String)
    case networkHasEndpoints(String, [String])
    case predefinedNetwork(String)
    case singleInstanceDriver(String)
    case alreadyConnected(container: String, network: String)
    case notConnected(container: String, network: String)
    case hostOrNoneMixed(String)
    case portAllocated(String)
    case portsExhausted(String)
    case hostPortUnavailable(String, String)
    case parentInUse(parent: String, network: String)
    case invalidDuration(String, String)
    case networksExhausted

    public var description: String {
        switch self {
        case let .invalidCIDR(value, rule): "invalid subnet \"\(value)\": \(rule)"
        case let .invalidIP(value, rule): "invalid IP address \"\(value)\": \(rule)"
        case let .invalidPortSpec(value, rule): "invalid port specification \"\(value)\": \(rule)"
        case let .invalidName(value, rule): "invalid name \"\(value)\": \(rule)"
        case let .invalidOption(value, rule): "invalid option \"\(value)\": \(rule)"
        case let .networkExists(name): "network with name \(name) already exists"
        case let .networkNotFound(name): "network \(name) not found"
        case let .containerExists(name): "Conflict. The container name \"/\(name)\" is already in use. Remove that container or choose another name"
        case let .containerNotFound(name): "No such container: \(name)"
        case let .poolOverlap(subnet, other): "invalid pool request: subnet \(subnet) overlaps with network \(other)"
        case .poolsExhausted: "all predefined address pools have been fully subnetted: pass --subnet"
        case let .addressesExhausted(network): "no available IPv4 addresses on this network's address pools: \(network)"
        case let .addressInUse(ip, network): "Address already in use: \(ip) on network \(network)"
        case let .addressOutsideSubnet(ip, subnet): "invalid IP address \"\(ip)\": it is not in the network's subnet \(subnet)"
        case .ipOnDefaultNetwork: "user specified IP address is supported on user defined networks only"
        case let .ipWithoutSubnet(network): "user specified IP address is supported only when connecting to networks with user configured subnets: \(network) has none"
        case let .networkHasEndpoints(name, containers): "error while removing network: network \(name) has active endpoints (\(containers.joined(separator: ", ")))"
        case let .predefinedNetwork(name): "\(name) is a pre-defined network and cannot be removed"
        case let .singleInstanceDriver(driver): "only one instance of \"\(driver)\" network is allowed"
        case let .alreadyConnected(container, network): "endpoint with name \(container) already exists in network \(network)"
        case let .notConnected(container, network): "container \(container) is not connected to network \(network)"
        case let .hostOrNoneMixed(network): "container cannot be disconnected from host or none network, nor connected to \(network) while on one"
        case let .portAllocated(binding): "Bind for \(binding) failed: port is already allocated"
        case let .portsExhausted(range): "no free host port in \(range)"
        case let .hostPortUnavailable(binding, reason): "Bind for \(binding) failed: \(reason)"
        case let .parentInUse(parent, network): "network \(network) is already using parent interface \(parent)"
        case let .invalidDuration(value, rule): "invalid duration \"\(value)\": \(rule)"
        case .networksExhausted: "this host has 65,535 networks already: remove one first"
        }
    }
}
