import Foundation
import Model
import Testing

@testable import Store

@Suite struct StoreTests {
    func sample() throws -> (Registry, Network, Container, Endpoint) {
        var registry = Registry(networks: try Registry.predefinedNetworks(now: Date(), hostPrefixes: []))
        let network = try registry.planNetwork(
            NetworkRequest(name: "n", subnet: "10.0.0.0/24"), id: randomID(), now: Date(), hostPrefixes: [])
        registry.networks.append(network)
        let (container, endpoint) = try registry.planContainer(
            ContainerRequest(name: "c", network: "n", ports: ["5000:80"]), id: randomID(), now: Date())
        return (registry, network, container, endpoint[0])
    }

    @Test func roundTripAcrossReopen() throws {
        let path = NSTemporaryDirectory() + "bridgeport-store-\(randomID().prefix(8)).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (registry, _, container, endpoint) = try sample()
        do {
            let store = try Store(path: path)
            try store.insert(networks: registry.networks)
            try store.insert(container: container, endpoints: [endpoint])
        }
        let loaded = try Store(path: path).load()
        #expect(Set(loaded.networks.map(\.name)) == ["bridge", "host", "none", "n"])
        #expect(loaded.containers == [container])
        #expect(loaded.endpoints == [endpoint])
        #expect(loaded.containers[0].ports[0].hostPort == 5000)
    }

    @Test func duplicateNameIsRefusedWhole() throws {
        let store = try Store(path: ":memory:")
        let (registry, _, container, endpoint) = try sample()
        try store.insert(networks: registry.networks)
        try store.insert(container: container, endpoints: [endpoint])
        var twin = container
        twin.id = randomID()
        var twinEndpoint = endpoint
        twinEndpoint.containerID = twin.id
        #expect(throws: (any Error).self) { try store.insert(container: twin, endpoints: [twinEndpoint]) }
        // Same address on the same network, different name: refused, and nothing of it stays.
        twin.name = "c2"
        #expect(throws: (any Error).self) { try store.insert(container: twin, endpoints: [twinEndpoint]) }
        #expect(try store.load().containers.count == 1)
    }

    @Test func removingAContainerRemovesItsEndpoints() throws {
        let store = try Store(path: ":memory:")
        let (registry, network, container, endpoint) = try sample()
        try store.insert(networks: registry.networks)
        try store.insert(container: container, endpoints: [endpoint])
        #expect(throws: (any Error).self) { try store.deleteNetwork(id: network.id) }  // still has an endpoint
        try store.deleteContainer(id: container.id)
        #expect(try store.load().endpoints.isEmpty)
        try store.deleteNetwork(id: network.id)
        #expect(try store.load().networks.count == 3)
    }

    /// A provisional write (a change in progress) is kept without an fsync of its own, and
    /// seen at once by another connection; the next durable write syncs again, and with it
    /// the WAL's earlier frames.
    @Test func aProvisionalWriteIsKeptAndTheNextIsDurable() throws {
        let path = NSTemporaryDirectory() + "bridgeport-store-\(randomID().prefix(8)).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let (registry, _, container, endpoint) = try sample()
        let store = try Store(path: path)
        try store.insert(networks: registry.networks)
        #expect(try store.synchronous() == "2")
        try store.insert(container: container, endpoints: [endpoint], commit: .provisional)
        #expect(try store.synchronous() == "1")
        #expect(try Store(path: path).load().containers == [container], "another connection reads it")
        var started = container
        started.process.pid = 4242
        try store.update(container: started)
        #expect(try store.synchronous() == "2", "a durable write syncs again")
        #expect(try Store(path: path).load().containers == [started])
    }

    @Test func updatesPersist() throws {
        let store = try Store(path: ":memory:")
        let (registry, _, container, endpoint) = try sample()
        try store.insert(networks: registry.networks)
        try store.insert(container: container, endpoints: [endpoint])
        var updated = container
        updated.process.pid = 4242
        try store.update(container: updated)
        #expect(try store.load().containers[0].process.pid == 4242)
    }

    /// A database as GRDB wrote it (`sqlite3 .dump` of one), before Store spoke to SQLite
    /// itself: it opens, reads back, and none of its migrations runs again.
    @Test func databaseWrittenByGRDBOpens() throws {
        let path = NSTemporaryDirectory() + "bridgeport-store-\(randomID().prefix(8)).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SQLiteConnection(path: path, busyTimeout: 0).execute(
            #"""
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES('v1');
            INSERT INTO grdb_migrations VALUES('v2: attachments');
            INSERT INTO grdb_migrations VALUES('v3: Docker endpoints not joined yet');
            CREATE TABLE IF NOT EXISTS "network" ("id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL);
            INSERT INTO network VALUES('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef','n','{"bridgeName":"br-0123456789ab","created":721692800,"driver":"bridge","gateway":"10.0.0.1","id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","internal":false,"name":"n","options":{},"subnet":"10.0.0.0\/24","userSubnet":true}');
            CREATE TABLE IF NOT EXISTS "container" ("id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL);
            INSERT INTO container VALUES('fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210','c','{"command":["sleep","infinity"],"created":721692800,"exposedPorts":[{"port":80,"proto":"tcp"}],"hostname":"fedcba987654","id":"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210","name":"c","networkMode":"n","ports":[{"containerPort":80,"hostIP":"0.0.0.0","hostPort":5000,"proto":"tcp"}],"process":{"pid":0,"startTicks":0}}');
            CREATE TABLE IF NOT EXISTS "endpoint" ("containerID" TEXT NOT NULL REFERENCES "container"("id") ON DELETE CASCADE, "networkID" TEXT NOT NULL REFERENCES "network"("id") ON DELETE RESTRICT, "ip" TEXT, "json" TEXT NOT NULL, PRIMARY KEY ("containerID", "networkID"), UNIQUE ("networkID", "ip"));
            INSERT INTO endpoint VALUES('fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210','0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef','10.0.0.2','{"containerID":"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210","containerInterface":"eth0","hostInterface":"veth1d655a6","ip":"10.0.0.2","mac":"02:42:0a:00:00:02","networkID":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","order":0}');
            CREATE TABLE IF NOT EXISTS "attachment" ("id" TEXT PRIMARY KEY NOT NULL, "hostInterface" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS "dockerEndpoint" ("id" TEXT PRIMARY KEY NOT NULL, "json" TEXT NOT NULL);
            """#)
        let store = try Store(path: path)
        let loaded = try store.load()
        #expect(loaded.networks.map(\.name) == ["n"])
        #expect(loaded.containers.map(\.name) == ["c"])
        #expect(loaded.endpoints.map(\.ip?.description) == ["10.0.0.2"])
        #expect(loaded.containers[0].ports[0].hostPort == 5000)
        try store.deleteContainer(id: loaded.containers[0].id)
        #expect(try store.load().endpoints.isEmpty)
    }

    /// A new database has the schema GRDB gave it, to the letter, in WAL mode.
    @Test func newDatabaseHasGRDBsSchema() throws {
        let path = NSTemporaryDirectory() + "bridgeport-store-\(randomID().prefix(8)).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try Store(path: path)
        let db = try SQLiteConnection(path: path, busyTimeout: 0)
        #expect(try db.strings("PRAGMA journal_mode") == ["wal"])
        #expect(
            try db.strings("SELECT identifier FROM grdb_migrations ORDER BY rowid") == [
                "v1", "v2: attachments", "v3: Docker endpoints not joined yet",
            ])
        #expect(
            try db.strings("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid") == [
                #"CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)"#,
                #"CREATE TABLE "network" ("id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL)"#,
                #"CREATE TABLE "container" ("id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL)"#,
                #"CREATE TABLE "endpoint" ("containerID" TEXT NOT NULL REFERENCES "container"("id") ON DELETE CASCADE, "networkID" TEXT NOT NULL REFERENCES "network"("id") ON DELETE RESTRICT, "ip" TEXT, "json" TEXT NOT NULL, PRIMARY KEY ("containerID", "networkID"), UNIQUE ("networkID", "ip"))"#,
                #"CREATE TABLE "attachment" ("id" TEXT PRIMARY KEY NOT NULL, "hostInterface" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL)"#,
                #"CREATE TABLE "dockerEndpoint" ("id" TEXT PRIMARY KEY NOT NULL, "json" TEXT NOT NULL)"#,
            ])
    }
}
