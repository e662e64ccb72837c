/// Docker's CLI parses flags with Go's pflag, where every boolean flag also takes a value:
/// `--ipv6=true`, `--rm=false`, and `--ipv4=false` is the only way to turn IPv4 off.
/// swift-argument-parser's flags take none, so such a token is rewritten first: `--NAME=true`
/// to `--NAME`, `--NAME=false` to nothing (the flag's default) or, for a flag that defaults to
/// true, `--no-NAME`. Only the flags below, only before `--`, and for `run` and `exec` only
/// before the container's command (which is the container's, as pflag stops there too).
enum GoBoolFlags {
    /// The long names of the CLI's boolean flags that default to false.
    static let offByDefault: Set<String> = [
        "detach", "publish-all", "rm", "interactive", "tty", "privileged", "all", "quiet", "no-trunc", "clear",
        "force", "flush", "internal", "attachable", "ipv6", "no-stream",
    ]
    /// ... and those that default to true (declared with `inversion: .prefixedNo`).
    static let onByDefault: Set<String> = ["ipv4"]

    /// The commands that end with a container's command: their short boolean flags (the
    /// other short options take a value) and the arguments before that command (exec's
    /// container). A switch over plain strings: a dictionary of tuples of sets has its
    /// generic types made at run time, which costs every command a millisecond's fraction.
    static func passthrough(_ command: String) -> (shortFlags: String, leading: Int)? {
        switch command {
        case "run": ("dPit", 0)
        case "exec": ("it", 1)
        default: nil
        }
    }

    static func normalized(_ arguments: [String]) -> [String] {
        guard let command = arguments.first, let rules = passthrough(command) else {
            return rewritten(arguments, end: arguments.firstIndex(of: "--") ?? arguments.endIndex)
        }
        // Where the container's command starts: the first argument past `leading` that is
        // neither an option nor an option's value.
        var positionals = 0
        var takesValue = false
        var end = arguments.endIndex
        for index in arguments.indices.dropFirst() {
            let argument = arguments[index]
            if argument == "--" {
                end = index
                break
            }
            if takesValue {
                takesValue = false
            } else if argument.hasPrefix("--") {
                let name = argument.dropFirst(2)
                // A Character: `contains("=")` would be Foundation's substring search, which
                // costs every command a few tenths of a millisecond to set up.
                takesValue =
                    !name.contains(Character("=")) && !offByDefault.contains(String(name))
                    && !onByDefault.contains(String(name))
                    && !name.hasPrefix("no-") && name != "help"
            } else if argument.hasPrefix("-") && argument.count > 1 {
                let letters = argument.dropFirst()
                takesValue = letters.count == 1 && !rules.shortFlags.contains(letters.first!)
            } else {
                positionals += 1
                if positionals > rules.leading {
                    end = index
                    break
                }
            }
        }
        return rewritten(arguments, end: end)
    }

    /// The arguments with the boolean flags' values before `end` rewritten.
    private static func rewritten(_ arguments: [String], end: Int) -> [String] {
        arguments[..<end].flatMap(rewritten) + arguments[end...]
    }

    private static func rewritten(_ argument: String) -> [String] {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return [argument] }
        let name = String(argument[argument.index(argument.startIndex, offsetBy: 2)..<equals])
        let value = argument[argument.index(after: equals)...].lowercased()
        // pflag's strconv.ParseBool spellings.
        let truth: Bool? =
            ["1", "t", "true"].contains(value) ? true : ["0", "f", "false"].contains(value) ? false : nil
        switch (truth, offByDefault.contains(name), onByDefault.contains(name)) {
        case (true?, true, _), (true?, _, true): return ["--" + name]
        case (false?, true, _): return []
        case (false?, _, true): return ["--no-" + name]
        default: return [argument]  // not a boolean flag's, or a value pflag refuses too
        }
    }
}
