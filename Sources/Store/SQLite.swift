import CSQLite

/// An error from SQLite: its message and extended result code, and the statement that failed.
public struct SQLiteError: Error, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var sql: String?

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " - while executing `\($0)`" } ?? "")
    }
}

/// One connection to an SQLite database, with what Store needs of it: statements run with
/// text arguments, the first column of rows read back, and transactions. Not thread-safe
/// (SQLITE_OPEN_NOMUTEX): Sendable only to be kept in Store's Mutex, which serializes its use.
final class SQLiteConnection: @unchecked Sendable {
    enum TransactionKind: String {
        /// Takes the write lock at the first write: for reads.
        case deferred = "DEFERRED"
        /// Takes the write lock at BEGIN: a write can't fail half-way because another
        /// connection wrote first (that SQLITE_BUSY isn't retried by the busy timeout).
        case immediate = "IMMEDIATE"
    }

    private let handle: OpaquePointer

    /// Opens (or creates) the database at path; ":memory:" gives a private one in memory.
    /// Another connection holding a lock is waited for up to busyTimeout milliseconds.
    init(path: String, busyTimeout: Int32) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close(handle)
            throw SQLiteError(code: code, message: "cannot open \(path): \(message)")
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, busyTimeout)
        csqlite_disable_double_quoted_strings(handle)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs the statements of sql in order; arguments bind the `?`s of a single statement.
    func execute(_ sql: String, _ arguments: [String?] = []) throws {
        try run(sql, arguments) { _ in }
    }

    /// The first column of each row the statements of sql return, as text.
    func strings(_ sql: String, _ arguments: [String?] = []) throws -> [String] {
        var rows: [String] = []
        try run(sql, arguments) { rows.append($0) }
        return rows
    }

    /// Runs body in a transaction: committed if it returns, rolled back if it throws.
    func transaction<T>(_ kind: TransactionKind, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue) TRANSACTION")
        do {
            let result = try body()
            try execute("COMMIT TRANSACTION")
            return result
        } catch {
            // Some errors end the transaction themselves (https://www.sqlite.org/lang_transaction.html).
            if sqlite3_get_autocommit(handle) == 0 { try? execute("ROLLBACK TRANSACTION") }
            throw error
        }
    }

    private func run(_ sql: String, _ arguments: [String?], row: (String) throws -> Void) throws {
        try sql.withCString { start in
            var next = start
            while next.pointee != 0 {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let code = sqlite3_prepare_v2(handle, next, -1, &statement, &tail)
                guard code == SQLITE_OK else { throw error(code, String(cString: next)) }
                guard let statement else { break }  // only whitespace or comments left
                defer { sqlite3_finalize(statement) }
                try bind(arguments, to: statement)
                try step(statement, row: row)
                next = tail ?? next
            }
        }
    }

    private func bind(_ arguments: [String?], to statement: OpaquePointer) throws {
        guard Int(sqlite3_bind_parameter_count(statement)) == arguments.count else {
            throw SQLiteError(
                code: SQLITE_RANGE,
                message: "\(arguments.count) arguments for \(sqlite3_bind_parameter_count(statement)) parameters",
                sql: String(cString: sqlite3_sql(statement)))
        }
        for (index, argument) in zip(Int32(1)..., arguments) {
            let code =
                if let argument {
                    csqlite_bind_text(statement, index, argument, -1)
                } else {
                    sqlite3_bind_null(statement, index)
                }
            guard code == SQLITE_OK else { throw error(code, String(cString: sqlite3_sql(statement))) }
        }
    }

    private func step(_ statement: OpaquePointer, row: (String) throws -> Void) throws {
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_DONE:
                return
            case SQLITE_ROW:
                guard let text = sqlite3_column_text(statement, 0) else {
                    throw SQLiteError(
                        code: SQLITE_MISMATCH, message: "NULL where text was expected",
                        sql: String(cString: sqlite3_sql(statement)))
                }
                let count = Int(sqlite3_column_bytes(statement, 0))
                try row(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
            case let code:
                throw error(code, String(cString: sqlite3_sql(statement)))
            }
        }
    }

    private func error(_ code: Int32, _ sql: String) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}
