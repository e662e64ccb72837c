import Links
import Testing

@testable import Datapath

/// What a scrape keeps of host interfaces' ifindexes must follow the links: an entry a
/// link event contradicts goes or changes, and a lookup that an event may have overtaken
/// is not kept.
@Suite struct InterfaceIndexCacheTests {
    private func following(_ found: [String: UInt32]) -> InterfaceIndexes {
        var kept = InterfaceIndexes()
        kept.follow(true)
        kept.beginLookups()
        kept.endLookups(found: found)
        return kept
    }

    private func changed(_ name: String, _ index: Int) -> LinkEvents.Event {
        .linkChanged(LinkInfo(name: name, index: index))
    }

    @Test func keepsLookupsOnlyWhileEventsAreRead() {
        var kept = InterfaceIndexes()
        kept.beginLookups()
        kept.endLookups(found: ["veth1": 5])
        #expect(kept.index(of: "veth1") == nil)
        kept = following(["veth1": 5])
        #expect(kept.index(of: "veth1") == 5)
        kept.follow(false)
        #expect(kept.index(of: "veth1") == nil)
    }

    /// What the dump at the start found is kept while events are read, and the events
    /// queued during the dump correct it.
    @Test func keepsTheSeedAndTheEventsAfterItCorrectIt() {
        var kept = InterfaceIndexes()
        kept.seed([("veth1", 5)])
        #expect(kept.index(of: "veth1") == nil, "not while no events are read")
        kept.follow(true)
        kept.seed([("veth1", 5), ("veth2", 6), ("eth0", 2)])
        kept.apply(.linkRemoved(ifindex: 5, name: "veth1"))  // removed during the dump
        kept.apply(changed("veth2", 16))  // made again during the dump
        #expect(kept.index(of: "veth1") == nil)
        #expect(kept.index(of: "veth2") == 16)
        #expect(kept.index(of: "eth0") == 2)
    }

    @Test func followsRemovalsRenamesAndLinksMadeAgain() {
        var kept = following(["veth1": 5, "veth2": 6, "veth3": 7])
        kept.apply(.linkRemoved(ifindex: 5, name: "veth1"))
        kept.apply(changed("veth2", 16))  // deleted and made again, its removal read before
        kept.apply(changed("other", 7))  // renamed
        kept.apply(changed("veth9", 9))  // a link no scrape asked about
        #expect(kept.index(of: "veth1") == nil)
        #expect(kept.index(of: "veth2") == 16)
        #expect(kept.index(of: "veth3") == nil)
        #expect(kept.index(of: "other") == nil)
        #expect(kept.index(of: "veth9") == nil)
        // A removal of an older link of that name leaves the newer one.
        kept.apply(.linkRemoved(ifindex: 6, name: "veth2"))
        #expect(kept.index(of: "veth2") == 16)
    }

    @Test func dropsLookupsThatEventsMayHaveOvertaken() {
        var kept = InterfaceIndexes()
        kept.follow(true)
        kept.beginLookups()
        kept.apply(.linkRemoved(ifindex: 5, name: "veth1"))  // after veth1 was found at 5
        kept.apply(changed("veth2", 6))  // veth2 made at 6 after it was found at 4
        kept.apply(changed("renamed", 8))  // the link found as veth4 renamed
        kept.endLookups(found: ["veth1": 5, "veth2": 4, "veth3": 7, "veth4": 8])
        #expect(kept.index(of: "veth1") == nil)
        #expect(kept.index(of: "veth2") == nil)
        #expect(kept.index(of: "veth3") == 7)
        #expect(kept.index(of: "veth4") == nil)
    }

    @Test func lostEventsForgetEverything() {
        var kept = following(["veth1": 5])
        kept.beginLookups()
        kept.apply(.eventsLost)
        kept.endLookups(found: ["veth2": 6])
        #expect(kept.index(of: "veth1") == nil)
        #expect(kept.index(of: "veth2") == nil)
        // Later lookups are kept again.
        kept.beginLookups()
        kept.endLookups(found: ["veth2": 6])
        #expect(kept.index(of: "veth2") == 6)
    }
}
