import Links
import Synchronization

/// The agent's interfaces' ifindexes by name, so that a scrape finds each endpoint's
/// counters without dumping every link (10,000 containers, 10,000 veths). What a lookup of
/// one link by name finds is kept, and the link events the agent reads keep it right (see
/// InterfaceIndexes).
public final class InterfaceIndexCache: Sendable {
    private let links: RouteSocket
    private let kept = Mutex(InterfaceIndexes())

    public init(links: RouteSocket) { self.links = links }

    /// The ifindexes of the links of these names that exist: those kept, and one lookup of
    /// each other link by name.
    public func indexes(of names: [String]) -> [String: UInt32] {
        var found: [String: UInt32] = [:]
        found.reserveCapacity(names.count)
        var missing: [String] = []
        kept.withLock { kept in
            for name in names {
                if let index = kept.index(of: name) { found[name] = index } else { missing.append(name) }
            }
            if !missing.isEmpty { kept.beginLookups() }
        }
        guard !missing.isEmpty else { return found }
        var looked: [String: UInt32] = [:]
        for name in missing { looked[name] = links.index(of: name).map(UInt32.init) }
        kept.withLock { $0.endLookups(found: looked) }
        return found.merging(looked) { kept, _ in kept }
    }

    /// The link events of the namespace are read from now on (true), or no longer.
    public func follow(_ following: Bool) { kept.withLock { $0.follow(following) } }

    /// Keeps every link there is, from one dump: what the first scrape after a start would
    /// otherwise look up one by one (216 ms at 10,000 veths, against one dump's 150 ms, in
    /// a debug build). For the thread that reads the link events, once following and before
    /// it reads any: the events queued meanwhile then correct what the dump found.
    public func seed() {
        guard let all = try? links.links() else { return }  // a scrape looks them up then
        kept.withLock { $0.seed(all.map { ($0.name, UInt32($0.index)) }) }
    }

    /// Link events as read, in order.
    public func apply(_ events: [LinkEvents.Event]) {
        kept.withLock { kept in events.forEach { kept.apply($0) } }
    }
}

/// What InterfaceIndexCache keeps. A link removed, made again under a kept name (a new
/// ifindex) or renamed changes its entry. Nothing is kept while no events are read (before
/// the agent subscribes, after it stops), and everything goes when the kernel drops
/// events: a name then costs a lookup again.
struct InterfaceIndexes {
    private var indexes: [String: UInt32] = [:]
    private var names: [UInt32: String] = [:]
    private var following = false
    /// Lookup batches under way, and the names and ifindexes that events named meanwhile:
    /// what a lookup found of those may be stale already, so it is not kept.
    private var lookups = 0
    private var touchedNames: Set<String> = []
    private var touchedIndexes: Set<UInt32> = []
    private var allTouched = false

    func index(of name: String) -> UInt32? { indexes[name] }

    /// Events are read from now on (true), or no longer (false); either way nothing kept
    /// so far, nor found by lookups under way, is trusted.
    mutating func follow(_ following: Bool) {
        self.following = following
        forgetAll()
    }

    /// Keeps these links, while events are read.
    mutating func seed(_ links: [(name: String, index: UInt32)]) {
        guard following else { return }
        for link in links { set(link.name, link.index) }
    }

    /// Starts a batch of lookups; `endLookups` keeps what they found.
    mutating func beginLookups() { lookups += 1 }

    mutating func endLookups(found: [String: UInt32]) {
        if following && !allTouched {
            for (name, index) in found where !touchedNames.contains(name) && !touchedIndexes.contains(index) {
                set(name, index)
            }
        }
        lookups -= 1
        if lookups == 0 { (touchedNames, touchedIndexes, allTouched) = ([], [], false) }
    }

    mutating func apply(_ event: LinkEvents.Event) {
        switch event {
        case .linkRemoved(let index, let name):
            touch(name, index)
            if indexes[name] == index { indexes[name] = nil }
            if names[index] == name { names[index] = nil }
        case .linkChanged(let link):
            let index = UInt32(link.index)
            touch(link.name, index)
            // A kept link renamed goes; a kept name made again gets its new ifindex. Other
            // links are not kept: most events are of links no scrape asks about.
            if let old = names[index], old != link.name {
                indexes[old] = nil
                names[index] = nil
            }
            if let old = indexes[link.name], old != index { set(link.name, index) }
        case .eventsLost: forgetAll()
        case .addressChanged: break
        }
    }

    private mutating func set(_ name: String, _ index: UInt32) {
        if let old = indexes[name] { names[old] = nil }
        if let old = names[index] { indexes[old] = nil }
        indexes[name] = index
        names[index] = name
    }

    private mutating func touch(_ name: String, _ index: UInt32) {
        guard lookups > 0 else { return }
        touchedNames.insert(name)
        touchedIndexes.insert(index)
    }

    private mutating func forgetAll() {
        indexes.removeAll()
        names.removeAll()
        if lookups > 0 { allTouched = true }
    }
}
