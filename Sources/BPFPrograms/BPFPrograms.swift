// The BPF objects that CompileBPF builds are this target's resources: see Package.swift.
