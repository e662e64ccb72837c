/// Docker's CLI parses flags with Go's pflag, where every boolean flag also takes a value:
/// `--ipv6=true`, `--rm=false`, and `--ipv4=false` is the only way to turn IPv4 off.
/// swift-argument-parser's flags take none, so such a token is rewritten first: `--NAME=true`
/// to `--NAME`, `--NAME=false` to nothing (the flag's default) or, for a flag that defaults to
/// true, `--no-NAME`. Only the flags below, and only before `--` (what follows is a container's
/// command).
enum GoBoolFlags {
    /// The long names of the CLI's boolean flags that default to false.
    static let offByDefault: Set<String> = [
        "detach", "publish-all", "rm", "interactive", "tty", "privileged", "all", "quiet", "no-trunc", "clear",
        "force", "flush", "internal", "attachable", "ipv6", "no-stream",
    ]
    /// ... and those that default to true (declared with `inversion: .prefixedNo`).
    static let onByDefault: Set<String> = ["ipv4"]

    static func normalized(_ arguments: [String]) -> [String] {
        var result: [String] = []
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { return result + arguments[index...] }
            guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else {
                result.append(argument)
                continue
            }
            let name = String(argument[argument.index(argument.startIndex, offsetBy: 2)..<equals])
            let value = argument[argument.index(after: equals)...].lowercased()
            // pflag's strconv.ParseBool spellings.
            let truth: Bool? =
                ["1", "t", "true"].contains(value) ? true : ["0", "f", "false"].contains(value) ? false : nil
            switch (truth, offByDefault.contains(name), onByDefault.contains(name)) {
            case (true?, true, _), (true?, _, true): result.append("--" + name)
            case (false?, true, _): break
            case (false?, _, true): result.append("--no-" + name)
            default: result.append(argument)  // not a boolean flag's, or a value pflag refuses too
            }
        }
        return result
    }
}
