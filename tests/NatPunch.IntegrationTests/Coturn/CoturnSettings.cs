using System.Globalization;
using System.Net;

namespace NatPunch.IntegrationTests.Coturn;

/// <summary>What a <see cref="CoturnServer"/> is started as: a STUN server (RFC 5780 on or off) or a TURN relay.</summary>
public sealed record CoturnSettings
{
    public static readonly IPAddress PrimaryAddress = IPAddress.Parse("127.0.0.1");
    public static readonly IPAddress AlternateAddress = IPAddress.Parse("127.0.0.2");

    /// <summary>STUN only, no authentication; RFC 5780 on (127.0.0.1 and 127.0.0.2, PORT and PORT+1) or off (127.0.0.1).</summary>
    public static CoturnSettings Stun(bool rfc5780) => new() { Rfc5780 = rfc5780 };

    /// <summary>A TURN relay on 127.0.0.1 with one long-term user, loopback peers allowed.</summary>
    public static CoturnSettings Relay(string user, string password, string realm = "natpunch") =>
        new() { RelayUser = $"{user}:{password}", Realm = realm };

    /// <summary>Listen on <see cref="AlternateAddress"/> and PORT+1 too, so that RFC 5780 is on.</summary>
    public bool Rfc5780 { get; init; }

    /// <summary>Null: STUN only. Otherwise the relay's one user as NAME:PASSWORD (<c>--lt-cred-mech --user</c>).</summary>
    public string? RelayUser { get; init; }

    public string Realm { get; init; } = "natpunch";

    /// <summary>coturn's <c>-v</c>: a log line per session event (new, ALLOCATE processed, TCP connected), for tests to check.</summary>
    public bool Verbose { get; init; }

    /// <summary>The addresses coturn listens on (PORT and, with <see cref="Rfc5780"/>, PORT+1 on each).</summary>
    public IReadOnlyList<IPAddress> ListeningAddresses => Rfc5780 ? [PrimaryAddress, AlternateAddress] : [PrimaryAddress];

    /// <summary>turnserver's command line: loopback only, nothing read from or written to /etc or /var.</summary>
    public IEnumerable<string> Arguments(int port, string directory)
    {
        string Port(int p) => p.ToString(CultureInfo.InvariantCulture);

        // -n: no /etc/turnserver.conf (Debian's sets syslog, no-rfc5780). --no-cli: no telnet console on
        // port 5766, which two coturns at once would fight over (and which would want --cli-password).
        string[] common =
        [
            "-n", "--no-tls", "--no-dtls", "--no-cli", "--simple-log", "--log-file", "stdout",
            "--listening-port", Port(port),
            "--pidfile", Path.Combine(directory, "turnserver.pid"),
            "--db", Path.Combine(directory, "turndb"),
        ];
        foreach (string argument in common)
        {
            yield return argument;
        }
        if (Verbose)
        {
            yield return "-v";
        }
        foreach (IPAddress address in ListeningAddresses)
        {
            yield return "--listening-ip";
            yield return address.ToString();
        }
        if (Rfc5780)
        {
            yield return "--alt-listening-port";
            yield return Port(port + 1);
        }
        else
        {
            yield return "--no-rfc5780";
        }
        if (RelayUser is null)
        {
            yield return "--no-auth";
            yield return "--stun-only";
        }
        else
        {
            // Loopback peers: every test peer (and the other peer's relayed address) is 127.0.0.1.
            foreach (string argument in new[] { "--lt-cred-mech", "--user", RelayUser, "--realm", Realm, "--allow-loopback-peers" })
            {
                yield return argument;
            }
        }
    }
}
