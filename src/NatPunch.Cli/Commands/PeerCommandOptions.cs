using System.CommandLine;
using NatPunch.Net;
using NatPunch.Relay;
using NatPunch.Security;
using NatPunch.Traversal;

namespace NatPunch.Cli.Commands;

/// <summary>
/// The options <c>natpunch listen</c> and <c>natpunch connect</c> have in common, and their
/// translation into <see cref="PeerOptions"/>. Checks that System.CommandLine cannot express
/// (ranges, option combinations) live in <see cref="TryRead"/> so that each gets a clear sentence.
/// </summary>
internal sealed class PeerCommandOptions
{
    /// <summary>How long credentials derived from <c>--turn-secret</c> stay valid (the REST username's expiry).</summary>
    public static readonly TimeSpan TurnSecretValidity = TimeSpan.FromHours(24);

    private readonly Option<string> _server = new("--server")
    {
        HelpName = "HOST[:PORT]",
        Description = "The NatPunch server. HOST[:PORT] (3478 if left out): the connection to the server uses TLS when the server "
            + "offers it, and TLS on port 443 when port 3478 cannot be reached. tls://HOST[:PORT]: TLS only (port 443; STUN on 3478). "
            + "tcp://HOST[:PORT]: never TLS.",
        Required = true,
    };
    private readonly Option<string?> _proxy = new("--proxy")
    {
        HelpName = "URL",
        Description = "Reach the server through this HTTP proxy (CONNECT): http://[USER:PASSWORD@]HOST[:PORT]. "
            + "Default: HTTPS_PROXY or https_proxy, with NO_PROXY/no_proxy; --proxy '' ignores them. Only TCP goes through the proxy.",
    };
    private readonly Option<string?> _serverCert = new("--server-cert-sha256")
    {
        HelpName = "HEX",
        Description = "Accept only this TLS certificate from the server (its SHA-256 fingerprint, as the server logs it or "
            + "'openssl x509 -noout -fingerprint -sha256' prints it), self-signed or not. Default: the system's trust store.",
    };
    private readonly Option<string?> _id = new("--id") { HelpName = "NAME", Description = "Our NAME in the server's directory." };
    private readonly Option<string?> _token = new("--token") { HelpName = "SECRET", Description = "The server's shared secret, if it requires one." };
    private readonly Option<string> _relay = new("--relay")
    {
        HelpName = "auto|never|only",
        Description = "Whether a TURN relay may carry the data. auto: direct paths preferred, the relay as a fallback, "
            + "moving to a direct path when one starts working; only: always through the relay; never: direct paths only "
            + "(fails when none works). The relay is the NatPunch server's own, or --turn.",
        DefaultValueFactory = _ => "auto",
    };
    private readonly Option<string?> _turn = new("--turn")
    {
        HelpName = "URI",
        Description = "Relay through this TURN server instead of the NatPunch server's own relay: turn:HOST[:PORT][?transport=udp|tcp] "
            + "(RFC 7065; port 3478 and UDP if left out; IPv6 in brackets), or turns:HOST[:PORT] for TURN over TLS (port 5349). "
            + "Needs --turn-user or --turn-secret.",
    };
    private readonly Option<string?> _turnUser = new("--turn-user")
    {
        HelpName = "NAME:PASSWORD",
        Description = "Long-term credentials for --turn (the password may contain ':'). "
            + "Or set NATPUNCH_TURN_USER, which other users cannot see in the process list.",
    };
    private readonly Option<string?> _turnSecret = new("--turn-secret")
    {
        HelpName = "SECRET",
        Description = "The TURN REST API shared secret of --turn (coturn's --static-auth-secret): credentials "
            + "valid for 24 hours are derived from it, with the username EXPIRY:NAME, NAME being --id. "
            + "Or set NATPUNCH_TURN_SECRET, which other users cannot see in the process list.",
    };
    private readonly Option<double> _timeout = new("--timeout")
    {
        HelpName = "SECONDS",
        Description = "Seconds to wait for the peer and a working path (connect), or to make a path once a peer arrived (listen).",
        DefaultValueFactory = _ => 30,
    };
    private readonly Option<double> _deadAfter = new("--dead-after")
    {
        HelpName = "SECONDS",
        Description = "Seconds without answers from the peer before the path is declared dead and re-established through the server.",
        DefaultValueFactory = _ => 15,
    };
    private readonly Option<string?> _identity = new("--identity")
    {
        HelpName = "FILE",
        Description = "Our identity: the key pair peers know us by (created on first use, mode 0600; refused if others can read it). "
            + "Default: $XDG_CONFIG_HOME/natpunch/identity (~/.config/natpunch/identity). 'natpunch id' prints its public key.",
    };
    private readonly Option<string?> _knownPeers = new("--known-peers")
    {
        HelpName = "FILE",
        Description = "Where peers' keys are remembered by name, as ssh's known_hosts: the first session records the key, "
            + "a changed key is refused. Used unless --peer-key or --allow decides. Default: $XDG_CONFIG_HOME/natpunch/known_peers.",
    };
    private readonly Option<string?> _peerKey = new("--peer-key")
    {
        HelpName = "KEY",
        Description = "Accept only a peer that proves this key (as 'natpunch id' prints it on the peer's machine).",
    };
    private readonly Option<string[]> _allow = new("--allow")
    {
        HelpName = "KEY",
        Description = "Accept only peers that prove this key; repeat for more peers.",
        AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<bool> _allowAny = new("--allow-any")
    {
        Description = "Let any peer that proves a key reach the target (each name's key is still remembered, as with known peers).",
    };
    private readonly bool _connect;
    private readonly bool _exposes;

    /// <param name="connect">True for commands that connect (take --peer-key), false for those that accept (take --allow).</param>
    /// <param name="idOptional">--id may be left out (a random name is registered): for commands that only connect out.</param>
    /// <param name="exposes">The command serves a target to peers: --allow or --allow-any must say who may reach it.</param>
    public PeerCommandOptions(bool connect, bool idOptional = false, bool exposes = false)
    {
        _connect = connect;
        _exposes = exposes;
        _id.Required = !idOptional;
        if (idOptional)
        {
            _id.Description += " Default: a random name (only peers we connect to see it).";
        }
    }

    private readonly Option<bool> _json = new("--json") { Description = "Progress on stderr as one JSON object per line." };
    private readonly Option<bool> _noPortMapping = new("--no-port-mapping")
    {
        Description = "Do not ask the gateway to open a port (PCP, NAT-PMP, UPnP-IGD). By default the session's UDP port is mapped when the "
            + "gateway allows it, and removed at exit: a peer behind a NAT that changes ports per destination can then be reached directly.",
    };
    private readonly Option<bool> _noPortProbing = new("--no-port-probing")
    {
        Description = "Do not probe for the peer's port when one NAT changes its port per destination (symmetric) and the other keeps it. "
            + "By default the symmetric side opens --probe-sockets sockets toward the peer and the other side sends up to --probes "
            + "checks, --probe-rate a second, to random ports of its public address, while the relay carries the data.",
    };
    private readonly Option<bool> _noClashAvoidance = new("--no-clash-avoidance")
    {
        Description = "Do not guard against NATs that take unsolicited packets for themselves (Linux boxes doing masquerade). By default "
            + "the route to the peer's public address is traced, an opening datagram whose TTL ends one router short of it opens our NAT, "
            + "and, when the peer's NAT answers unsolicited packets, checks to it wait (250 ms) until the peer's own opening has left: docs/clash-avoidance.md.",
    };
    private readonly Option<bool> _noTcpPunch = new("--no-tcp-punch")
    {
        Description = "Do not offer TCP candidates. By default the session also listens on a TCP port, learns its public address from the "
            + "server over TCP, and connects to the peer's TCP candidates at the introduction's moment (simultaneous open), so that a "
            + "network that blocks UDP can still get a direct path (\"transport\":\"tcp\"): docs/tcp-punching.md. Linux only.",
    };
    private readonly Option<int> _probeSockets = new("--probe-sockets")
    {
        Description = "Port probing: extra sockets on the symmetric side (1-4096).",
        DefaultValueFactory = _ => PortProbingOptions.Default.Sockets,
    };
    private readonly Option<int> _probes = new("--probes")
    {
        Description = "Port probing: checks the other side sends at most (1-64512).",
        DefaultValueFactory = _ => PortProbingOptions.Default.Probes,
    };
    private readonly Option<int> _probeRate = new("--probe-rate")
    {
        Description = "Port probing: checks per second (1-10000).",
        DefaultValueFactory = _ => PortProbingOptions.Default.ProbesPerSecond,
    };
    private readonly Option<bool> _loopback = new("--allow-loopback")
    {
        Description = "Also offer loopback addresses (two peers on one machine).",
        Hidden = true,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(_server);
        command.Options.Add(_proxy);
        command.Options.Add(_serverCert);
        command.Options.Add(_id);
        command.Options.Add(_token);
        command.Options.Add(_relay);
        command.Options.Add(_turn);
        command.Options.Add(_turnUser);
        command.Options.Add(_turnSecret);
        command.Options.Add(_timeout);
        command.Options.Add(_deadAfter);
        command.Options.Add(_identity);
        command.Options.Add(_knownPeers);
        command.Options.Add(_connect ? _peerKey : _allow);
        if (_exposes)
        {
            command.Options.Add(_allowAny);
        }
        command.Options.Add(_json);
        command.Options.Add(_noPortMapping);
        command.Options.Add(_noPortProbing);
        command.Options.Add(_noClashAvoidance);
        command.Options.Add(_noTcpPunch);
        command.Options.Add(_probeSockets);
        command.Options.Add(_probes);
        command.Options.Add(_probeRate);
        command.Options.Add(_loopback);
    }

    private bool TryReadPortProbing(ParseResult parse, out PortProbingOptions? probing, out string error)
    {
        probing = null;
        error = "";
        int sockets = parse.GetValue(_probeSockets), probes = parse.GetValue(_probes), rate = parse.GetValue(_probeRate);
        if (sockets is < 1 or > 4096 || probes is < 1 or > 64512 || rate is < 1 or > 10000)
        {
            error = "--probe-sockets must be 1-4096, --probes 1-64512, --probe-rate 1-10000";
            return false;
        }
        if (!parse.GetValue(_noPortProbing))
        {
            probing = PortProbingOptions.Default with { Sockets = sockets, Probes = probes, ProbesPerSecond = rate };
        }
        return true;
    }

    /// <summary>The identity file to load (after <see cref="TryRead(ParseResult, DateTimeOffset, out PeerOptions, out string)"/>).</summary>
    public string IdentityPath { get; private set; } = IdentityFile.DefaultPath;

    /// <summary>Whether --json was given (known even when the rest does not parse).</summary>
    public bool Json(ParseResult parse) => parse.GetValue(_json);

    /// <summary>
    /// Reads the options into <paramref name="options"/>, or says in <paramref name="error"/> what is
    /// wrong (a usage error). Never puts a password into <paramref name="error"/>.
    /// </summary>
    /// <param name="now">The time --turn-secret credentials are valid from.</param>
    public bool TryRead(ParseResult parse, DateTimeOffset now, out PeerOptions options, out string error) =>
        TryRead(parse, now, Environment.GetEnvironmentVariable, out options, out error);

    /// <param name="environment">Where NATPUNCH_TURN_USER / NATPUNCH_TURN_SECRET are looked up (tests pass their own).</param>
    public bool TryRead(ParseResult parse, DateTimeOffset now, Func<string, string?> environment, out PeerOptions options, out string error)
    {
        options = null!;
        if (!TryParseRelayMode(parse.GetValue(_relay), out RelayMode relay, out error))
        {
            return false;
        }
        double timeout = parse.GetValue(_timeout);
        if (timeout <= 0 || double.IsNaN(timeout) || timeout > 86400)
        {
            error = "--timeout must be a number of seconds between 0 and 86400";
            return false;
        }
        double deadAfter = parse.GetValue(_deadAfter);
        if (deadAfter < 1 || double.IsNaN(deadAfter) || deadAfter > 3600)
        {
            error = "--dead-after must be a number of seconds between 1 and 3600";
            return false;
        }
        string name = parse.GetValue(_id) ?? $"anon-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5))}";
        if (!TryReadTurn(parse, relay, name, now, environment, out TurnServerUri? turnServer, out TurnCredentials? turnCredentials, out error))
        {
            return false;
        }
        if (!TryReadServerConnection(parse, environment, out ServerConnectionOptions serverConnection, out error))
        {
            return false;
        }
        PeerKey? pinned = null;
        if (_connect && parse.GetValue(_peerKey) is { } pinnedText && !PeerKey.TryParse(pinnedText, out pinned, out string keyError))
        {
            error = $"--peer-key: {keyError}";
            return false;
        }
        var allowed = new List<PeerKey>();
        foreach (string text in _connect ? [] : parse.GetValue(_allow) ?? [])
        {
            if (!PeerKey.TryParse(text, out PeerKey? key, out string allowError))
            {
                error = $"--allow {text}: {allowError}";
                return false;
            }
            allowed.Add(key);
        }
        if (_exposes && allowed.Count == 0 && !parse.GetValue(_allowAny))
        {
            error = "say who may reach the target: --allow KEY for each peer ('natpunch id' prints a peer's key), or --allow-any";
            return false;
        }
        if (_exposes && allowed.Count > 0 && parse.GetValue(_allowAny))
        {
            error = "--allow and --allow-any cannot be combined";
            return false;
        }
        if (!TryReadPortProbing(parse, out PortProbingOptions? probing, out error))
        {
            return false;
        }
        var defaults = new PeerOptions { Server = "", Name = "" };
        options = new PeerOptions
        {
            Ice = defaults.Ice with
            {
                ConsentTimeout = TimeSpan.FromSeconds(deadAfter),
                ConsentInterval = TimeSpan.FromSeconds(Math.Min(5, deadAfter / 3)),
                PortProbing = probing,
                ClashAvoidance = parse.GetValue(_noClashAvoidance) ? null : ClashAvoidanceOptions.Default,
            },
            StreamPeerTimeout = TimeSpan.FromSeconds(Math.Max(60, deadAfter * 4)),
            Server = parse.GetValue(_server)!,
            ServerConnection = serverConnection,
            Name = name,
            Token = parse.GetValue(_token),
            Timeout = TimeSpan.FromSeconds(timeout),
            IncludeLoopbackCandidates = parse.GetValue(_loopback),
            PortMapping = !parse.GetValue(_noPortMapping),
            TcpPunching = !parse.GetValue(_noTcpPunch),
            Relay = relay,
            TurnServer = turnServer,
            TurnCredentials = turnCredentials,
            PeerKey = pinned,
            AllowedKeys = allowed,
            KnownPeers = new KnownPeers(parse.GetValue(_knownPeers) ?? KnownPeers.DefaultPath),
        };
        IdentityPath = parse.GetValue(_identity) ?? IdentityFile.DefaultPath;
        return true;
    }

    /// <summary>--proxy (or HTTPS_PROXY and NO_PROXY) and --server-cert-sha256; the server's own syntax is checked too.</summary>
    private bool TryReadServerConnection(ParseResult parse, Func<string, string?> environment, out ServerConnectionOptions connection, out string error)
    {
        connection = ServerConnectionOptions.Default;
        if (!ServerAddress.TryParse(parse.GetValue(_server), out ServerAddress server, out string serverError))
        {
            error = $"--server: {serverError}";
            return false;
        }
        if (server.Scheme == ServerScheme.Tcp && parse.GetValue(_serverCert) is not null)
        {
            error = "--server-cert-sha256 pins a TLS certificate, and tcp:// never uses TLS";
            return false;
        }
        HttpProxy? proxy;
        if (parse.GetResult(_proxy) is not null)
        {
            string text = parse.GetValue(_proxy) ?? "";
            proxy = null;
            if (text.Length > 0 && !HttpProxy.TryParse(text, HttpProxy.BypassFromEnvironment(environment), out proxy!, out string proxyError))
            {
                error = $"--proxy: {proxyError}";
                return false;
            }
        }
        else if (!HttpProxy.TryFromEnvironment(environment, out proxy, out error))
        {
            return false;
        }
        byte[]? pin = null;
        if (parse.GetValue(_serverCert) is { } pinText && !ServerConnectionOptions.TryParsePin(pinText, out pin, out string pinError))
        {
            error = $"--server-cert-sha256: {pinError}";
            return false;
        }
        connection = new ServerConnectionOptions { Proxy = proxy, PinnedCertificateSha256 = pin };
        error = "";
        return true;
    }

    private static bool TryParseRelayMode(string? text, out RelayMode relay, out string error)
    {
        error = string.Empty;
        switch (text?.Trim().ToLowerInvariant())
        {
            case "auto":
                relay = RelayMode.Auto;
                return true;
            case "never":
                relay = RelayMode.Never;
                return true;
            case "only":
                relay = RelayMode.Only;
                return true;
            default:
                relay = default;
                error = $"--relay must be auto, never or only, not '{text}'";
                return false;
        }
    }

    /// <summary>--turn and its credentials: all three absent, or --turn with exactly one of --turn-user/--turn-secret.</summary>
    private bool TryReadTurn(ParseResult parse, RelayMode relay, string name, DateTimeOffset now, Func<string, string?> environment,
        out TurnServerUri? server, out TurnCredentials? credentials, out string error)
    {
        server = null;
        credentials = null;
        error = string.Empty;
        string? uriText = parse.GetValue(_turn);
        string? user = parse.GetValue(_turnUser);
        string? secret = parse.GetValue(_turnSecret);
        if (uriText is null)
        {
            if (user is not null || secret is not null)
            {
                // Without --turn they would silently do nothing: the server's own relay uses credentials it hands out.
                error = $"{(user is not null ? "--turn-user" : "--turn-secret")} needs --turn (the TURN server the credentials are for)";
                return false;
            }
            return true;
        }
        if (relay == RelayMode.Never)
        {
            error = "--turn has no effect with --relay never";
            return false;
        }
        if (user is null && secret is null)
        {
            // Kept out of the command line, where any user of the machine can read it (ps).
            user = environment("NATPUNCH_TURN_USER") is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
            secret = user is null && environment("NATPUNCH_TURN_SECRET") is { Length: > 0 } secretFromEnvironment ? secretFromEnvironment : null;
        }
        if (!TurnServerUri.TryParse(uriText, out TurnServerUri uri, out string uriError))
        {
            error = $"--turn: {uriError}";
            return false;
        }
        if (user is not null && secret is not null)
        {
            error = "--turn-user and --turn-secret cannot be combined: give one of them";
            return false;
        }
        if (user is not null)
        {
            int colon = user.IndexOf(':');
            if (colon <= 0 || colon == user.Length - 1)
            {
                // Not quoting the value: it may be (or contain) the password.
                error = "--turn-user must be NAME:PASSWORD, both non-empty";
                return false;
            }
            credentials = new TurnCredentials(user[..colon], user[(colon + 1)..]);
        }
        else if (secret is not null)
        {
            if (secret.Length == 0)
            {
                error = "--turn-secret must not be empty";
                return false;
            }
            credentials = TurnCredentials.FromSharedSecret(secret, now + TurnSecretValidity, name);
        }
        else
        {
            error = "--turn needs credentials: --turn-user NAME:PASSWORD or --turn-secret SECRET (or NATPUNCH_TURN_USER / NATPUNCH_TURN_SECRET)";
            return false;
        }
        server = uri;
        return true;
    }
}
