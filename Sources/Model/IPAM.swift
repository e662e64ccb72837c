/// Address management the Docker way: subnets from predefined pools, addresses in order.
public enum IPAM {
    /// Docker's default local pools: 172.17-31.0.0/16, then 192.168.0-240.0/20.
    public static let defaultPools: [IPv4Network] =
        (17...31).map { IPv4Network(containing: IPv4Address(172, UInt8($0), 0, 0), prefixLength: 16) }
        + stride(from: 0, through: 240, by: 16).map {
            IPv4Network(containing: IPv4Address(192, 168, UInt8($0), 0), prefixLength: 20)
        }

    /// Docker's default pool of cluster-wide (overlay) networks: 10.0.0.0/8 in /24s.
    public static let globalPools: [IPv4Network] = stride(from: UInt32(0x0a00_0000), through: 0x0aff_ff00, by: 256).map
    {
        IPv4Network(containing: IPv4Address($0), prefixLength: 24)
    }

    /// The first pool that overlaps none of `used` (other networks' subnets and the host's
    /// addresses and routes; default routes are not counted, they overlap everything).
    public static func chooseSubnet(
        avoiding used: [IPv4Network], pools: [IPv4Network] = defaultPools
    ) throws(ModelError) -> IPv4Network {
        let relevant = used.filter { $0.prefixLength > 0 }
        guard let pool = pools.first(where: { pool in !relevant.contains { $0.overlaps(pool) } }) else {
            throw .poolsExhausted
        }
        return pool
    }

    /// The lowest free host address of the network's --ip-range (or subnet), skipping the
    /// gateway and addresses in use.
    public static func allocate(in network: Network, used: Set<IPv4Address>) throws(ModelError) -> IPv4Address {
        guard let subnet = network.subnet else { throw .addressesExhausted(network: network.name) }
        let pool = network.ipRange ?? subnet
        let hosts = subnet.hostRange.clamped(to: pool.address.value...pool.broadcast.value)
        for value in hosts {
            let candidate = IPv4Address(value)
            if candidate != network.gateway && !used.contains(candidate) { return candidate }
        }
        throw .addressesExhausted(network: network.name)
    }
}

/// Random identifiers like Docker's: 64 lowercase hex digits.
public func randomID() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<32).map { _ in hex2(UInt8.random(in: 0...255, using: &generator)) }.joined()
}

/// The host side of a veth Bridgeport makes, from a seed that identifies its endpoint.
public func vethName(_ seed: String) -> String { "veth" + shortHash(seed).prefix(7) }

/// A short stable hash for interface names (FNV-1a, 32 bits).
func shortHash(_ text: String) -> String {
    var hash: UInt32 = 0x811c_9dc5
    for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return String(hash, radix: 16).leftPadded(to: 8)
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
