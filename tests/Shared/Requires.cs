using System.Runtime.InteropServices;

namespace NatPunch.Testing;

/// <summary>
/// Preconditions of tests that need root or a Debian tool. Where one is missing the test is
/// skipped with the reason; under CI (NATPUNCH_REQUIRE_ALL=1, set by .ci/run) it fails instead,
/// so a missing install step can never pass silently.
/// </summary>
public static class Requires
{
    private static bool Strict => Environment.GetEnvironmentVariable("NATPUNCH_REQUIRE_ALL") == "1";

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    public static void Root()
    {
        if (!OperatingSystem.IsLinux() || GetEffectiveUserId() != 0)
        {
            Missing("needs root on Linux (network namespaces, nftables)");
        }
    }

    public static void Tool(string name)
    {
        if (FindOnPath(name) is null)
        {
            Missing($"needs '{name}' on PATH (installed by .ci/run)");
        }
    }

    public static void IPv6()
    {
        if (!System.Net.Sockets.Socket.OSSupportsIPv6)
        {
            Missing("needs IPv6 (at least ::1)");
        }
    }

    public static string? FindOnPath(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        foreach (string directory in new[] { "/usr/sbin", "/sbin", "/usr/bin" })
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static void Missing(string reason)
    {
        if (Strict)
        {
            Assert.Fail($"Required under CI but missing: {reason}");
        }
        Assert.Skip(reason);
    }
}
