import Foundation
import GRDB
import Model

/// Durable state in SQLite (GRDB). Each record is kept as JSON next to the columns that
/// carry a constraint, so the database itself refuses duplicate names and addresses even
/// if a bug slipped past the model's checks. Every method is one transaction.
public final class Store: Sendable {
    private let database: DatabaseQueue

    /// Opens (or creates) the database at path; ":memory:" gives a throwaway one for tests.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        // WAL: one fsync per commit, and a commit is durable once it returns.
        configuration.prepareDatabase { db in
            if db.configuration.readonly == false {
                try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL")
            }
        }
        database =
            path == ":memory:"
            ? try DatabaseQueue(configuration: configuration)
            : try DatabaseQueue(path: path, configuration: configuration)
        try Store.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "network") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("json", .text).notNull()
            }
            try db.create(table: "container") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("json", .text).notNull()
            }
            try db.create(table: "endpoint") { t in
                t.column("containerID", .text).notNull().references("container", onDelete: .cascade)
                t.column("networkID", .text).notNull().references("network", onDelete: .restrict)
                t.column("ip", .text)
                t.column("json", .text).notNull()
                t.primaryKey(["containerID", "networkID"])
                t.uniqueKey(["networkID", "ip"])
            }
        }
        migrator.registerMigration("v2: attachments") { db in
            try db.create(table: "attachment") { t in
                t.primaryKey("id", .text)
                t.column("hostInterface", .text).notNull().unique()
                t.column("json", .text).notNull()
            }
        }
        migrator.registerMigration("v3: Docker endpoints not joined yet") { db in
            try db.create(table: "dockerEndpoint") { t in
                t.primaryKey("id", .text)
                t.column("json", .text).notNull()
            }
        }
        return migrator
    }

    // MARK: Reading

    /// Everything, as the model's values.
    public func load() throws -> Registry {
        try database.read { db in
            Registry(
                networks: try decodeAll(db, "SELECT json FROM network"),
                containers: try decodeAll(db, "SELECT json FROM container"),
                endpoints: try decodeAll(db, "SELECT json FROM endpoint"),
                attachments: try decodeAll(db, "SELECT json FROM attachment"))
        }
    }

    /// Docker's endpoints that are created but not joined, by ID.
    public func dockerEndpoints() throws -> [String: DockerEndpoint] {
        let all: [DockerEndpoint] = try database.read { db in try decodeAll(db, "SELECT json FROM dockerEndpoint") }
        return Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    // MARK: Writing

    public func insert(networks: [Network]) throws {
        try database.write { db in
            for network in networks {
                try db.execute(
                    sql: "INSERT INTO network (id, name, json) VALUES (?, ?, ?)",
                    arguments: [network.id, network.name, try encode(network)])
            }
        }
    }

    public func update(network: Network) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE network SET json = ? WHERE id = ?", arguments: [try encode(network), network.id])
        }
    }

    public func deleteNetwork(id: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM network WHERE id = ?", arguments: [id]) }
    }

    /// A container and its endpoints, together or not at all.
    public func insert(container: Container, endpoints: [Endpoint]) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO container (id, name, json) VALUES (?, ?, ?)",
                arguments: [container.id, container.name, try encode(container)])
            for endpoint in endpoints { try insert(endpoint, db) }
        }
    }

    public func update(container: Container) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE container SET json = ? WHERE id = ?", arguments: [try encode(container), container.id])
        }
    }

    /// Removes a container; its endpoints go with it (ON DELETE CASCADE).
    public func deleteContainer(id: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM container WHERE id = ?", arguments: [id]) }
    }

    public func insert(endpoint: Endpoint) throws {
        try database.write { db in try insert(endpoint, db) }
    }

    public func delete(endpoint: Endpoint) throws {
        try database.write { db in
            try db.execute(
                sql: "DELETE FROM endpoint WHERE containerID = ? AND networkID = ?",
                arguments: [endpoint.containerID, endpoint.networkID])
        }
    }

    /// Records an attachment, replacing one of the same container and interface.
    public func save(attachment: Attachment) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO attachment (id, hostInterface, json) VALUES (?, ?, ?)",
                arguments: [attachment.id, attachment.hostInterface, try encode(attachment)])
        }
    }

    public func delete(attachment id: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM attachment WHERE id = ?", arguments: [id]) }
    }

    public func save(dockerEndpoint endpoint: DockerEndpoint) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO dockerEndpoint (id, json) VALUES (?, ?)",
                arguments: [endpoint.id, try encode(endpoint)])
        }
    }

    public func delete(dockerEndpoint id: String) throws {
        try database.write { db in try db.execute(sql: "DELETE FROM dockerEndpoint WHERE id = ?", arguments: [id]) }
    }

    private func insert(_ endpoint: Endpoint, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO endpoint (containerID, networkID, ip, json) VALUES (?, ?, ?, ?)",
            arguments: [endpoint.containerID, endpoint.networkID, endpoint.ip?.description, try encode(endpoint)])
    }
}

private func encode(_ value: some Encodable) throws -> String {
    String(decoding: try ModelJSON.encoder.encode(value), as: UTF8.self)
}

private func decodeAll<T: Decodable>(_ db: Database, _ sql: String) throws -> [T] {
    let decoder = ModelJSON.decoder
    return try String.fetchAll(db, sql: sql).map { try decoder.decode(T.self, from: Data($0.utf8)) }
}
