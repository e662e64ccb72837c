import CSQLite
import FoundationEssentials
import Model
import Synchronization

/// Durable state in SQLite. Each record is kept as JSON next to the columns that carry a
/// constraint, so the database itself refuses duplicate names and addresses even if a bug
/// slipped past the model's checks. Every method is one transaction.
///
/// The schema, its migrations and the connection's settings are those GRDB gave it (Store
/// used GRDB until it took too much of Foundation along), so state written then still opens.
public final class Store: Sendable {
    private let database: Mutex<SQLiteConnection>

    /// Opens (or creates) the database at path; ":memory:" gives a throwaway one for tests.
    public init(path: String) throws {
        let connection = try SQLiteConnection(path: path, busyTimeout: 5000)
        try connection.execute("PRAGMA foreign_keys = ON")
        // WAL: one fsync per commit, and a commit is durable once it returns (see Commit).
        try connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL")
        try Store.migrate(connection)
        database = Mutex(connection)
    }

    /// The migrations in order, each run once: grdb_migrations records the ones applied.
    private static let migrations: [(identifier: String, sql: String)] = [
        (
            "v1",
            """
            CREATE TABLE "network" ("id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL UNIQUE, \
            "json" TEXT NOT NULL);
            CREATE TABLE "container" ("id" TEXT PRIMARY KEY NOT NULL, "name" TEXT NOT NULL UNIQUE, \
            "json" TEXT NOT NULL);
            CREATE TABLE "endpoint" (\
            "containerID" TEXT NOT NULL REFERENCES "container"("id") ON DELETE CASCADE, \
            "networkID" TEXT NOT NULL REFERENCES "network"("id") ON DELETE RESTRICT, \
            "ip" TEXT, "json" TEXT NOT NULL, PRIMARY KEY ("containerID", "networkID"), UNIQUE ("networkID", "ip"));
            """
        ),
        (
            "v2: attachments",
            """
            CREATE TABLE "attachment" ("id" TEXT PRIMARY KEY NOT NULL, \
            "hostInterface" TEXT NOT NULL UNIQUE, "json" TEXT NOT NULL);
            """
        ),
        (
            "v3: Docker endpoints not joined yet",
            """
            CREATE TABLE "dockerEndpoint" ("id" TEXT PRIMARY KEY NOT NULL, "json" TEXT NOT NULL);
            """
        ),
    ]

    /// Applies the migrations not applied yet, each in its own transaction, as GRDB's
    /// DatabaseMigrator did: foreign keys off while the schema changes, checked before the
    /// commit. Identifiers it doesn't know (a newer version's) are left alone.
    private static func migrate(_ db: SQLiteConnection) throws {
        try db.execute("CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        let applied = Set(try db.strings("SELECT identifier FROM grdb_migrations"))
        for migration in migrations where !applied.contains(migration.identifier) {
            try db.execute("PRAGMA foreign_keys = OFF")
            let migrated = Result {
                try db.transaction(.immediate) {
                    try db.execute(migration.sql)
                    try db.execute("INSERT INTO grdb_migrations (identifier) VALUES (?)", [migration.identifier])
                    if let table = try db.strings("PRAGMA foreign_key_check").first {
                        throw SQLiteError(
                            code: SQLITE_CONSTRAINT, message: "FOREIGN KEY constraint violation in \(table)",
                            sql: migration.sql)
                    }
                }
            }
            try db.execute("PRAGMA foreign_keys = ON")
            try migrated.get()
        }
    }

    private func read<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try database.withLock { db in try db.transaction(.deferred) { try body(db) } }
    }

    /// How far a write's commit is kept.
    public enum Commit: Sendable {
        /// Through a crash of the machine: the commit returns after its fsync (every
        /// acknowledged change ends with one of these).
        case durable
        /// Through a crash of the agent, not of the machine: no fsync of its own. For the
        /// record of a change in progress, which its change's last write (durable) makes
        /// durable too: the WAL is one file written in order, and that write's fsync covers
        /// the frames before it. A machine that crashes before then loses the record with
        /// what it recorded (namespaces, veths, processes), and nothing was acknowledged.
        case provisional
    }

    private func write(_ commit: Commit = .durable, _ body: (SQLiteConnection) throws -> Void) throws {
        try database.withLock { db in
            // Set on every write: a provisional one never leaves the connection without fsyncs.
            try db.execute(commit == .durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
            try db.transaction(.immediate) { try body(db) }
        }
    }

    // MARK: Reading

    /// The connection's `PRAGMA synchronous` now: 2 (FULL) or 1 (NORMAL, after a provisional write).
    func synchronous() throws -> String {
        try database.withLock { db in try db.strings("PRAGMA synchronous").first ?? "" }
    }

    /// Everything, as the model's values.
    public func load() throws -> Registry {
        try read { db in
            Registry(
                networks: try decodeAll(db, "SELECT json FROM network"),
                containers: try decodeAll(db, "SELECT json FROM container"),
                endpoints: try decodeAll(db, "SELECT json FROM endpoint"),
                attachments: try decodeAll(db, "SELECT json FROM attachment"))
        }
    }

    /// Docker's endpoints that are created but not joined, by ID.
    public func dockerEndpoints() throws -> [String: DockerEndpoint] {
        let all: [DockerEndpoint] = try read { db in try decodeAll(db, "SELECT json FROM dockerEndpoint") }
        return Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: Writing

    public func insert(networks: [Network]) throws {
        try write { db in
            for network in networks {
                try db.execute(
                    "INSERT INTO network (id, name, json) VALUES (?, ?, ?)",
                    [network.id, network.name, try encode(network)])
            }
        }
    }

    public func update(network: Network) throws {
        try write { db in
            try db.execute(
                "UPDATE network SET json = ? WHERE id = ?", [try encode(network), network.id])
        }
    }

    public func deleteNetwork(id: String) throws {
        try write { db in
            try db.execute(
                "DELETE FROM network WHERE id = ?", [id])
        }
    }

    /// A container and its endpoints, together or not at all.
    public func insert(container: Container, endpoints: [Endpoint], commit: Commit = .durable) throws {
        try write(commit) { db in
            try db.execute(
                "INSERT INTO container (id, name, json) VALUES (?, ?, ?)",
                [container.id, container.name, try encode(container)])
            for endpoint in endpoints { try insert(endpoint, db) }
        }
    }

    public func update(container: Container) throws {
        try write { db in
            try db.execute(
                "UPDATE container SET json = ? WHERE id = ?", [try encode(container), container.id])
        }
    }

    /// Removes a container; its endpoints go with it (ON DELETE CASCADE).
    public func deleteContainer(id: String) throws {
        try write { db in
            try db.execute(
                "DELETE FROM container WHERE id = ?", [id])
        }
    }

    public func insert(endpoint: Endpoint) throws {
        try write { db in try insert(endpoint, db) }
    }

    public func delete(endpoint: Endpoint) throws {
        try write { db in
            try db.execute(
                "DELETE FROM endpoint WHERE containerID = ? AND networkID = ?",
                [endpoint.containerID, endpoint.networkID])
        }
    }

    /// Records an attachment, replacing one of the same container and interface.
    public func save(attachment: Attachment) throws {
        try write { db in
            try db.execute(
                "INSERT OR REPLACE INTO attachment (id, hostInterface, json) VALUES (?, ?, ?)",
                [attachment.id, attachment.hostInterface, try encode(attachment)])
        }
    }

    public func delete(attachment id: String) throws {
        try write { db in
            try db.execute(
                "DELETE FROM attachment WHERE id = ?", [id])
        }
    }

    public func save(dockerEndpoint endpoint: DockerEndpoint) throws {
        try write { db in
            try db.execute(
                "INSERT OR REPLACE INTO dockerEndpoint (id, json) VALUES (?, ?)",
                [endpoint.id, try encode(endpoint)])
        }
    }

    public func delete(dockerEndpoint id: String) throws {
        try write { db in
            try db.execute(
                "DELETE FROM dockerEndpoint WHERE id = ?", [id])
        }
    }

    private func insert(_ endpoint: Endpoint, _ db: SQLiteConnection) throws {
        try db.execute(
            "INSERT INTO endpoint (containerID, networkID, ip, json) VALUES (?, ?, ?, ?)",
            [endpoint.containerID, endpoint.networkID, endpoint.ip?.description, try encode(endpoint)])
    }
}

private func encode(_ value: some Encodable) throws -> String {
    String(decoding: try ModelJSON.encoder.encode(value), as: UTF8.self)
}

private func decodeAll<T: Decodable>(_ db: SQLiteConnection, _ sql: String) throws -> [T] {
    let decoder = ModelJSON.decoder
    return try db.strings(sql).map { try decoder.decode(T.self, from: Data($0.utf8)) }
}
