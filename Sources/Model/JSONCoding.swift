import FoundationEssentials

/// The one JSON coding of model values, for the store and the API alike. Dates keep
/// Foundation's own encoding (seconds since 2001 as a double), so a value survives a
/// round trip exactly; the CLI formats them for people.
public enum ModelJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }
}
