import CDeflate
import FoundationEssentials
import Model

/// gzip for scrapes that ask for it (Accept-Encoding: gzip), through libdeflate: a scrape
/// is one buffer compressed whole, libdeflate's case. Its level 1 took 4.7 ms for 10,000
/// endpoints' text (4.3 MB) where zlib's level 1 took 7.1-7.3, and its output was 10%
/// smaller.
public enum Gzip {
    public static func compress(_ input: [UInt8]) -> [UInt8]? {
        // A compressor holds its hash tables (205 KiB at level 1, tens of microseconds to
        // make): one per call, so that concurrent scrapes share nothing.
        guard let compressor = libdeflate_alloc_compressor(1) else { return nil }
        defer { libdeflate_free_compressor(compressor) }
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            written = input.withUnsafeBytes { source in
                libdeflate_gzip_compress(compressor, source.baseAddress, source.count, buffer.baseAddress, bound)
            }
            count = written
        }
        // 0: the bound was too small, which libdeflate's own bound rules out.
        return written > 0 ? output : nil
    }

    /// True when an Accept-Encoding header allows gzip (and does not refuse it with q=0).
    static func accepted(by header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingSpaces() }
            return fields.first == "gzip"
                && !fields.dropFirst().contains { $0.filter { $0 != " " } == "q=0" }
        }
    }
}
