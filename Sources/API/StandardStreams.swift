import FoundationEssentials
import Glibc

// Descriptors read and written whole, in place of FileHandle (not in FoundationEssentials).

/// Writes all of data to fd, standard output unless told; a failed write (a closed pipe)
/// ends it quietly.
public func writeAll(_ data: Data, to fd: Int32 = STDOUT_FILENO) {
    data.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// What fd holds to its end, standard input unless told; nil if reading fails (a directory).
public func readAll(_ fd: Int32 = STDIN_FILENO) -> Data? {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { return nil }
        if count == 0 { return data }
        data.append(contentsOf: buffer[..<count])
    }
}

/// A file that could not be read: strerror's words ("No such file or directory").
public struct FileReadError: Error, CustomStringConvertible {
    public var description: String
}

/// The whole of the file at path.
public func readFile(atPath path: String) throws(FileReadError) -> Data {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(description: String(cString: strerror(errno))) }
    defer { close(fd) }
    guard let data = readAll(fd) else { throw FileReadError(description: String(cString: strerror(errno))) }
    return data
}
