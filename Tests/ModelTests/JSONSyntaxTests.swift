import Foundation
import Model
import Testing

/// jsonSyntaxError says what Foundation's JSONSerialization said of the same text (its
/// messages, taken from it), which FoundationEssentials' JSONDecoder does not.
@Suite struct JSONSyntaxTests {
    @Test(arguments: [
        ("{\"bip\": ", "Unexpected end of file during JSON parse."),
        ("{\"bip\": x}", "Invalid value around character 8."),
        ("{\"a\" 1}", "Invalid value around character 5."),
        ("{\"a\":1 \"b\":2}", "Invalid value around character 7."),
        ("[1 2]", "Invalid value around character 3."),
        ("{1:2}", "Invalid value around character 1."),
        ("\"abc", "Unexpected end of file during JSON parse."),
        ("\"a\\qb\"", "Invalid escape sequence around character 2."),
        ("tru", "Unexpected end of file during JSON parse."),
        ("01", "Number with leading zero around character 1."),
        ("1.", "Unexpected end of file during JSON parse."),
        ("{\"a\":1} x", "Invalid value around character 8."),
        ("", "Unexpected end of file during JSON parse."),
        ("\"a\u{1}b\"", "Unescaped control character around character 2."),
        ("{\"a\":nul", "Unexpected end of file during JSON parse."),
        ("{\"a\":nul}", "Invalid value around character 5."),  // Foundation says end of file
    ])
    func refused(text: String, message: String) {
        #expect(jsonSyntaxError(Data(text.utf8)) == message)
    }

    /// Nesting is refused past Foundation's 512 levels, with an error rather than a stack overflow.
    @Test func deepNestingIsRefused() {
        #expect(
            jsonSyntaxError(Data((String(repeating: "[", count: 512) + String(repeating: "]", count: 512)).utf8)) == nil
        )
        #expect(
            jsonSyntaxError(Data(String(repeating: "[", count: 100_000).utf8))
                == "Too many nested arrays or dictionaries around character 512.")
    }

    @Test(arguments: [
        "{}", " [ ] ", "{\"a\":1,}", "[1,]", "-0.5e+3", "\"\\u00e9\\n\"", "{\"a\":[true,false,null,{\"b\":\"c\"}]}",
    ])
    func accepted(text: String) {
        #expect(jsonSyntaxError(Data(text.utf8)) == nil)
    }
}
