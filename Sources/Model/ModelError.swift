/// Everything a user can get wrong, each with a one-line message that names the value and
/// the rule. The agent returns these to the CLI as they are.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidCIDR(String, String)
    case invalidIP(String, String)
    case invalidPortSpec(String, String)
    /// A `-p` HOSTIP that is no address, in go-connections' words ("invalid IP address: x").
    case invalidHostIP(String, reason: String?)
    /// An IPv6 binding for a container without an IPv6 address (its network has no IPv6).
    case noIPv6ForBinding(String)
    /// An IPv4 binding for a container without an IPv4 address (on an IPv6-only network).
    case noIPv4ForBinding(String)
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
    case addressOutsideSubnet6(IPv6Address, IPv6Network)
    case addressInUse6(IPv6Address, network: String)
    case poolOverlap6(IPv6Network, with: String)
    case hostPrefixOverlap6(IPv6Network, IPv6Network)
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
    /// A flag's value that `run` refuses; the message is Docker's.
    case invalidFlag(String, String, String)
    case invalidAlias(String)
    case aliasWithoutNames
    /// Flags that exclude each other; the message is Docker's, after "conflicting options: ".
    case conflictingOptions(String)
    /// `--network` values that cannot go together.
    case conflictingNetworks(String)
    /// `--network container:NAME` of a container that is not running.
    case joinNotRunning(String)
    /// A --filter key the command does not know.
    case invalidFilter(String)
    /// A --filter value the key does not take; Docker's message, or `reason` when it has its own.
    case invalidFilterValue(String, String, reason: String? = nil)
    /// A daemon setting or driver option refused; the message is whole (Docker's where it has one).
    case invalidConfiguration(String)
    /// Keys of the daemon's configuration file that are no setting.
    case unknownDirectives([String])
    /// Settings given both as a flag and in the configuration file: "key: (from flag: ..., from file: ...)".
    case conflictingDirectives([String])
    /// --aux-address outside the network's subnet (or with no subnet given).
    case noSubnetForAuxAddress(String)
    /// `--ipv4=false` without `--ipv6`: a network needs an address family.
    case noAddressFamily
    case auxAddressInUse(name: String, IPv4Address)
    /// The default bridge's settings changed while containers use it.
    case defaultBridgeInUse(changes: [String], users: [String])

    public var description: String {
        switch self {
        case .invalidCIDR(let value, let rule): "invalid subnet \"\(value)\": \(rule)"
        case .invalidIP(let value, let rule): "invalid IP address \"\(value)\": \(rule)"
        case .invalidPortSpec(let value, let rule): "invalid port specification \"\(value)\": \(rule)"
        case .invalidHostIP(let value, let reason):
            reason.map { "invalid IP address \(value): \($0)" } ?? "invalid IP address: \(value)"
        case .noIPv6ForBinding(let binding):
            "cannot publish \(binding): the container has no IPv6 address (its network was not created with --ipv6)"
        case .noIPv4ForBinding(let binding):
            "cannot publish \(binding): the container has no IPv4 address (its network was created with --ipv4=false)"
        case .invalidName(let value, let rule): "invalid name \"\(value)\": \(rule)"
        case .invalidOption(let value, let rule): "invalid option \"\(value)\": \(rule)"
        case .networkExists(let name): "network with name \(name) already exists"
        case .networkNotFound(let name): "network \(name) not found"
        case .containerExists(let name):
            "Conflict. The container name \"/\(name)\" is already in use. Remove that container or choose another name"
        case .containerNotFound(let name): "No such container: \(name)"
        case .poolOverlap(let subnet, let other):
            "invalid pool request: subnet \(subnet) overlaps with network \(other)"
        case .poolsExhausted: "all predefined address pools have been fully subnetted: pass --subnet"
        case .addressesExhausted(let network): "no available IPv4 addresses on this network's address pools: \(network)"
        case .addressInUse(let ip, let network): "Address already in use: \(ip) on network \(network)"
        case .addressOutsideSubnet(let ip, let subnet):
            "invalid IP address \"\(ip)\": it is not in the network's subnet \(subnet)"
        case .addressOutsideSubnet6(let ip, let subnet):
            "invalid IPv6 address \"\(ip)\": it is not in the network's subnet \(subnet)"
        case .addressInUse6(let ip, let network): "Address already in use: \(ip) on network \(network)"
        case .poolOverlap6(let subnet, let other):
            "invalid pool request: subnet \(subnet) overlaps with network \(other)"
        case .hostPrefixOverlap6(let subnet, let prefix):
            "invalid pool request: subnet \(subnet) overlaps with the host's prefix \(prefix)"
        case .ipOnDefaultNetwork: "user specified IP address is supported on user defined networks only"
        case .ipWithoutSubnet(let network):
            "user specified IP address is supported only when connecting to networks with user configured subnets: \(network) has none"
        case .networkHasEndpoints(let name, let containers):
            "error while removing network: network \(name) has active endpoints (\(containers.joined(separator: ", ")))"
        case .predefinedNetwork(let name): "\(name) is a pre-defined network and cannot be removed"
        case .singleInstanceDriver(let driver): "only one instance of \"\(driver)\" network is allowed"
        case .alreadyConnected(let container, let network):
            "endpoint with name \(container) already exists in network \(network)"
        case .notConnected(let container, let network): "container \(container) is not connected to network \(network)"
        case .hostOrNoneMixed(let network):
            "container cannot be disconnected from host or none network, nor connected to \(network) while on one"
        case .portAllocated(let binding): "Bind for \(binding) failed: port is already allocated"
        case .portsExhausted(let range): "no free host port in \(range)"
        case .hostPortUnavailable(let binding, let reason): "Bind for \(binding) failed: \(reason)"
        case .parentInUse(let parent, let network): "network \(network) is already using parent interface \(parent)"
        case .invalidDuration(let value, let rule): "invalid duration \"\(value)\": \(rule)"
        case .networksExhausted: "this host has 65,535 networks already: remove one first"
        case .invalidFlag(let flag, let value, let message):
            "invalid argument \"\(value)\" for \"\(flag)\" flag: \(message)"
        case .invalidAlias(let alias):
            "invalid network alias \"\(alias)\": an alias is a DNS name of letters, digits, '-' and '_' (labels of 1 to 63 characters)"
        case .aliasWithoutNames: "network-scoped alias is supported only for containers in user defined networks"
        case .conflictingOptions(let what): "conflicting options: \(what)"
        case .conflictingNetworks(let message): message
        case .joinNotRunning(let name): "cannot join network of a non running container: \(name)"
        case .invalidFilter(let key): "invalid filter '\(key)'"
        case .invalidFilterValue(let key, let value, let reason): reason ?? "Invalid filter '\(key)=\(value)'"
        case .invalidConfiguration(let message): message
        case .unknownDirectives(let keys):
            "the following directives don't match any configuration option: \(keys.joined(separator: ", "))"
        case .conflictingDirectives(let conflicts):
            "the following directives are specified both as a flag and in the configuration file: \(conflicts.joined(separator: ", "))"
        case .noSubnetForAuxAddress(let address): "no matching subnet for aux-address \(address)"
        case .noAddressFamily: "IPv4 or IPv6 must be enabled"
        case .auxAddressInUse(let name, let ip):
            "failed to allocate secondary ip address (\(name):\(ip)): Address already in use"
        case .defaultBridgeInUse(let changes, let users):
            "the default bridge's settings changed (\(changes.joined(separator: ", "))) but containers use it: "
                + "\(users.joined(separator: ", ")); remove them, or restore the settings it has"
        }
    }
}
