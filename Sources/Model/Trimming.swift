/// Foundation's trimmingCharacters(in:), which FoundationEssentials lacks, for the sets used.
extension StringProtocol {
    /// Without the spaces and tabs around it (not the line breaks), as Foundation's
    /// trimmingCharacters(in: .whitespaces).
    public func trimmingSpaces() -> String { trimming(while: { $0.isWhitespace && !$0.isNewline }) }

    /// Without the blanks around it, line breaks too (.whitespacesAndNewlines).
    public func trimmingBlanks() -> String { trimming(while: \.isWhitespace) }

    /// Without the characters around it that blank accepts.
    public func trimming(while blank: (Character) -> Bool) -> String {
        String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
