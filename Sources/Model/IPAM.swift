/// A range that subnets are carved from, Docker's `{"base": "172.80.0.0/16", "size": 24}`:
/// the subnets of prefix length `size` inside `base`, in order.
public struct AddressPool: Hashable, Sendable, CustomStringConvertible {
    public var base: IPv4Network
    public var size: Int

    /// Sizes leave room for a gateway and a container (as --subnet's /30 limit does).
    public static let sizes = 0...30

    public init(base: IPv4Network, size: Int) throws(ModelError) {
        guard size >= base.prefixLength, AddressPool.sizes.contains(size) else {
            throw .invalidConfiguration(
                "invalid default-address-pools entry base=\(base),size=\(size): the size must be from "
                    + "\(base.prefixLength) (the base's prefix length) to \(AddressPool.sizes.upperBound)")
        }
        self.base = base
        self.size = size
    }

    private init(unchecked base: IPv4Network, size: Int) {
        self.base = base
        self.size = size
    }

    /// As Docker's --default-address-pool flag writes it.
    public var description: String { "base=\(base),size=\(size)" }

    /// The first subnet of the pool that overlaps none of `used`; nil when every one does.
    /// Each clash skips past the network it clashed with, so a huge pool costs no more
    /// than the networks in use.
    func firstSubnet(avoiding used: [IPv4Network]) -> IPv4Network? {
        let step = UInt64(1) << (32 - size)
        var start = UInt64(base.address.value)
        while start <= UInt64(base.broadcast.value) {
            let candidate = IPv4Network(containing: IPv4Address(UInt32(start)), prefixLength: size)
            guard let clash = used.first(where: { $0.overlaps(candidate) }) else { return candidate }
            let after = UInt64(clash.broadcast.value) + 1
            start = max(start + step, (after + step - 1) / step * step)
        }
        return nil
    }

    /// Docker's default local pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
    public static let localDefaults: [AddressPool] =
        (17...31).map {
            AddressPool(
                unchecked: IPv4Network(containing: IPv4Address(172, UInt8($0), 0, 0), prefixLength: 16), size: 16)
        } + [AddressPool(unchecked: IPv4Network(containing: IPv4Address(192, 168, 0, 0), prefixLength: 16), size: 20)]

    /// Docker's default pool of cluster-wide (overlay) networks: 10.0.0.0/8 in /24s.
    public static let globalDefaults = [
        AddressPool(unchecked: IPv4Network(containing: IPv4Address(10, 0, 0, 0), prefixLength: 8), size: 24)
    ]
}

/// Address management the Docker way: subnets from predefined pools, addresses in order.
public enum IPAM {
    /// The first subnet of the pools that overlaps none of `used` (other networks' subnets
    /// and the host's addresses and routes; default routes are not counted, they overlap
    /// everything).
    public static func chooseSubnet(
        avoiding used: [IPv4Network], pools: [AddressPool] = AddressPool.localDefaults
    ) throws(ModelError) -> IPv4Network {
        let relevant = used.filter { $0.prefixLength > 0 }
        for pool in pools {
            if let subnet = pool.firstSubnet(avoiding: relevant) { return subnet }
        }
        throw .poolsExhausted
    }

    /// The lowest free host address of the network's --ip-range (or subnet), skipping the
    /// gateway, the aux addresses and addresses in use.
    public static func allocate(in network: Network, used: Set<IPv4Address>) throws(ModelError) -> IPv4Address {
        guard let subnet = network.subnet else { throw .addressesExhausted(network: network.name) }
        let pool = network.ipRange ?? subnet
        let hosts = subnet.hostRange.clamped(to: pool.address.value...pool.broadcast.value)
        let reserved = network.reservedAddresses
        for value in hosts {
            let candidate = IPv4Address(value)
            if !reserved.contains(candidate) && !used.contains(candidate) { return candidate }
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
