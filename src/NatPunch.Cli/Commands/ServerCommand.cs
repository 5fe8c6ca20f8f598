using System.CommandLine;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NatPunch.Server;
using NatPunch.Server.Hosting;
using NatPunch.Server.Rendezvous;
using NatPunch.Server.Turn;

namespace NatPunch.Cli.Commands;

/// <summary><c>natpunch server</c>: STUN, the TURN relay and the rendezvous service, over UDP and TCP on one port.</summary>
internal static class ServerCommand
{
    public static Command Create()
    {
        var listen = new Option<string[]>("--listen")
        {
            Description = "IP:PORT to serve on, over UDP and TCP; repeat for several. Default: [::]:3478 (IPv4 and IPv6).",
            AllowMultipleArgumentsPerToken = false,
        };
        var altAddress = new Option<string?>("--alt-address")
        {
            Description = "A second IP of this host. Enables RFC 5780 NAT behaviour discovery: the first --listen IP "
                + "(which must then be a specific IP) and this one are served on PORT and PORT+1.",
        };
        var token = new Option<string?>("--token")
        {
            Description = "Require peers to present this secret to register with the rendezvous service (and so to get TURN relay credentials).",
        };
        var verbose = new Option<bool>("--verbose") { Description = "Log every connection and drop (debug level)." };
        var realm = new Option<string?>("--realm")
        {
            Description = "TURN: the long-term credential realm (RFC 8489 §9.2). Default: natpunch.",
        };
        var noTurn = new Option<bool>("--no-turn")
        {
            Description = "Switch the TURN relay off. By default it runs, and the rendezvous gives each registered peer "
                + "short-lived credentials for it, so peers that cannot connect directly fall back to it with no configuration.",
        };
        var turnUser = new Option<string[]>("--turn-user")
        {
            Description = "TURN: a static user as NAME:PASSWORD, for other TURN clients; repeat for several.",
            AllowMultipleArgumentsPerToken = false,
        };
        var turnSecret = new Option<string?>("--turn-secret")
        {
            Description = "TURN: the TURN REST API shared secret (coturn's --use-auth-secret): usernames are EXPIRY:NAME "
                + "(Unix seconds), passwords base64(HMAC-SHA1(secret, username)). The grants to registered peers are then minted "
                + "with it too (otherwise with a random secret made at start), so other services sharing it can check them.",
        };
        var turnGrantTtl = new Option<int>("--turn-grant-ttl")
        {
            HelpName = "SECONDS",
            Description = "TURN: seconds the credentials given to a registered peer may be used to make allocations. Default 3600 "
                + "(an hour). A peer gets fresh ones when it registers and half way through their life; an allocation made with them "
                + "lives on after they expire, until the peer's registration ends.",
            DefaultValueFactory = _ => (int)TurnOptions.Default.GrantLifetime.TotalSeconds,
        };
        var turnNoAuth = new Option<bool>("--turn-no-auth")
        {
            Description = "TURN without any authentication. INSECURE, for tests only: anyone can relay through the server.",
        };
        var userQuota = new Option<int>("--user-quota")
        {
            HelpName = "N",
            Description = $"TURN: allocations one user (or one registered peer's grant) may hold at once (0 = no limit; beyond it 486). Default {TurnOptions.Default.UserQuota}.",
            DefaultValueFactory = _ => TurnOptions.Default.UserQuota,
        };
        var allocationsPerIp = new Option<int>("--allocations-per-ip")
        {
            HelpName = "N",
            Description = $"TURN: allocations at once from one source, an IPv4 address or an IPv6 /64 (0 = no limit). Default {TurnOptions.Default.AllocationsPerAddress}.",
            DefaultValueFactory = _ => TurnOptions.Default.AllocationsPerAddress,
        };
        var totalQuota = new Option<int>("--total-quota")
        {
            HelpName = "N",
            Description = $"TURN: allocations in total at once (0 = no limit). Default {TurnOptions.Default.TotalQuota}.",
            DefaultValueFactory = _ => TurnOptions.Default.TotalQuota,
        };
        var maxPermissions = new Option<int>("--max-permissions")
        {
            HelpName = "N",
            Description = $"TURN: peer addresses one allocation may have permissions for at once (0 = no limit; beyond it 508). Default {TurnOptions.Default.MaxPermissionsPerAllocation}.",
            DefaultValueFactory = _ => TurnOptions.Default.MaxPermissionsPerAllocation,
        };
        var maxBps = new Option<long>("--max-bps")
        {
            HelpName = "BYTES",
            Description = $"TURN: relayed bytes per second per allocation, both directions together (0 = no limit); the excess is dropped. Default {TurnOptions.Default.MaxBytesPerSecond} (100 Mbit/s).",
            DefaultValueFactory = _ => TurnOptions.Default.MaxBytesPerSecond,
        };
        var maxBpsPerUser = new Option<long>("--max-bps-per-user")
        {
            HelpName = "BYTES",
            Description = $"TURN: relayed bytes per second of all of one user's allocations together (a --turn-user, or one registered peer's grant; 0 = no limit). Default {TurnOptions.Default.MaxBytesPerSecondPerUser} (200 Mbit/s).",
            DefaultValueFactory = _ => TurnOptions.Default.MaxBytesPerSecondPerUser,
        };
        var maxBpsPerIp = new Option<long>("--max-bps-per-ip")
        {
            HelpName = "BYTES",
            Description = $"TURN: relayed bytes per second of all allocations from one IPv4 address or IPv6 /64 together (0 = no limit). Default {TurnOptions.Default.MaxBytesPerSecondPerAddress} (400 Mbit/s).",
            DefaultValueFactory = _ => TurnOptions.Default.MaxBytesPerSecondPerAddress,
        };
        var metricsOption = new Option<string?>("--metrics")
        {
            HelpName = "IP:PORT",
            Description = "Serve Prometheus metrics at http://IP:PORT/metrics (docs/metrics.md), e.g. --metrics 127.0.0.1:9464.",
        };
        var maxConnections = new Option<int>("--max-connections")
        {
            HelpName = "N",
            Description = $"TCP connections at once, all clients together. Default {NatPunchServerOptions.Default.MaxTcpConnections}.",
            DefaultValueFactory = _ => NatPunchServerOptions.Default.MaxTcpConnections,
        };
        var maxConnectionsPerIp = new Option<int>("--max-connections-per-ip")
        {
            HelpName = "N",
            Description = $"TCP connections at once from one source, an IPv4 address or an IPv6 /64. Default {NatPunchServerOptions.Default.MaxTcpConnectionsPerAddress}.",
            DefaultValueFactory = _ => NatPunchServerOptions.Default.MaxTcpConnectionsPerAddress,
        };
        var handshakeTimeout = new Option<double>("--handshake-timeout")
        {
            HelpName = "SECONDS",
            Description = $"Seconds a new TCP connection has to send its first bytes. Default {NatPunchServerOptions.Default.TcpHandshakeTimeout.TotalSeconds}.",
            DefaultValueFactory = _ => NatPunchServerOptions.Default.TcpHandshakeTimeout.TotalSeconds,
        };
        var messageTimeout = new Option<double>("--message-timeout")
        {
            HelpName = "SECONDS",
            Description = $"Seconds a message begun on a TCP connection has to arrive whole (a minimum data rate, against slowloris). Default {NatPunchServerOptions.Default.TcpMessageTimeout.TotalSeconds}.",
            DefaultValueFactory = _ => NatPunchServerOptions.Default.TcpMessageTimeout.TotalSeconds,
        };
        var registerTimeout = new Option<double>("--register-timeout")
        {
            HelpName = "SECONDS",
            Description = $"Rendezvous: seconds a connection has to register a name. Default {RendezvousOptions.Default.RegisterTimeout.TotalSeconds}.",
            DefaultValueFactory = _ => RendezvousOptions.Default.RegisterTimeout.TotalSeconds,
        };
        var rendezvousRate = new Option<double>("--rendezvous-rate")
        {
            HelpName = "N",
            Description = $"Rendezvous: messages per second one connection may send on average (bursts of --rendezvous-burst); beyond it the connection is closed. Default {RendezvousOptions.Default.MessagesPerSecond}.",
            DefaultValueFactory = _ => RendezvousOptions.Default.MessagesPerSecond,
        };
        var rendezvousBurst = new Option<int>("--rendezvous-burst")
        {
            HelpName = "N",
            Description = $"Rendezvous: messages one connection may send at once. Default {RendezvousOptions.Default.MessageBurst}.",
            DefaultValueFactory = _ => RendezvousOptions.Default.MessageBurst,
        };
        var rendezvousRatePerIp = new Option<double>("--rendezvous-rate-per-ip")
        {
            HelpName = "N",
            Description = $"Rendezvous: messages per second all connections from one IPv4 address or IPv6 /64 may send together on average (bursts of ten seconds' worth); beyond it the sending connection is closed. Default {RendezvousOptions.Default.MessagesPerSecondPerAddress}.",
            DefaultValueFactory = _ => RendezvousOptions.Default.MessagesPerSecondPerAddress,
        };
        var registerRate = new Option<int>("--register-rate")
        {
            HelpName = "N",
            Description = $"Rendezvous: registrations (attempts, wrong tokens included) one source, an IPv4 address or an IPv6 /64, may make per minute. Default {RendezvousOptions.Default.RegistrationsPerMinute}.",
            DefaultValueFactory = _ => RendezvousOptions.Default.RegistrationsPerMinute,
        };
        var rendezvousMaxFrame = new Option<int>("--rendezvous-max-frame")
        {
            HelpName = "BYTES",
            Description = $"Rendezvous: the largest message accepted, in bytes (at most 65535). Default {RendezvousOptions.Default.MaxFrameLength}.",
            DefaultValueFactory = _ => RendezvousOptions.Default.MaxFrameLength,
        };
        var minPort = new Option<int>("--min-port")
        {
            Description = "TURN: lowest relay port. Default 49152.",
            DefaultValueFactory = _ => 49152,
        };
        var maxPort = new Option<int>("--max-port")
        {
            Description = "TURN: highest relay port. Default 65535.",
            DefaultValueFactory = _ => 65535,
        };
        var relayIp = new Option<string[]>("--relay-ip")
        {
            Description = "TURN: IP to bind relays to (one per family). Default: the listen IP, or for a wildcard listen "
                + "address this host's address toward the client.",
            AllowMultipleArgumentsPerToken = false,
        };
        var allowLoopbackPeers = new Option<bool>("--allow-loopback-peers")
        {
            Description = "TURN: let clients relay to loopback addresses (127.0.0.0/8, ::1). Off by default; for tests.",
        };
        var allowPeer = new Option<string[]>("--allow-peer")
        {
            Description = "TURN: a CIDR of peers to allow although the default policy denies it (private, link-local and "
                + "other special ranges are denied by default with 403); repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var denyPeer = new Option<string[]>("--deny-peer")
        {
            Description = "TURN: a CIDR of peers always denied (checked first); repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var tlsListen = new Option<string[]>("--tls-listen")
        {
            HelpName = "IP:PORT",
            Description = "Also serve TCP on IP:PORT (repeatable), where TLS clients are welcome as well as plain ones: "
                + "[::]:443 for networks that let only 443 out, 5349 for turns:. Needs --tls-cert and --tls-key.",
            AllowMultipleArgumentsPerToken = false,
        };
        var tlsCert = new Option<string?>("--tls-cert")
        {
            HelpName = "FILE",
            Description = "TLS certificate (PEM: the server's certificate, then its chain; Let's Encrypt's fullchain.pem). With it, "
                + "every TCP port also speaks TLS: the rendezvous, STUN and TURN (turns:). Reloaded when the file changes.",
        };
        var tlsKey = new Option<string?>("--tls-key") { HelpName = "FILE", Description = "The private key of --tls-cert (PEM)." };
        var command = new Command("server", "Run the NatPunch server: a standard STUN server (RFC 8489, RFC 5780), the rendezvous service "
            + "that introduces peers, and a TURN relay (RFC 8656) for peers that cannot connect directly, all on one port over UDP "
            + "and TCP. Registered peers get short-lived relay credentials from the rendezvous: without --token anyone who can "
            + "register can relay (to public addresses only, unless --allow-peer/--allow-loopback-peers); --no-turn switches the relay off.")
        {
            listen, altAddress, token, verbose, noTurn, realm, turnUser, turnSecret, turnGrantTtl, turnNoAuth, userQuota, allocationsPerIp, totalQuota,
            maxPermissions, maxBps, maxBpsPerUser, maxBpsPerIp, minPort, maxPort, relayIp, allowLoopbackPeers, allowPeer, denyPeer,
            tlsListen, tlsCert, tlsKey, metricsOption, maxConnections, maxConnectionsPerIp, handshakeTimeout, messageTimeout, registerTimeout, registerRate, rendezvousRate, rendezvousBurst, rendezvousRatePerIp, rendezvousMaxFrame,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!TryParseEndPoints(parse.GetValue(listen), "--listen", out List<IPEndPoint> endPoints, out string? listenError))
            {
                return Usage(listenError!);
            }
            IPAddress? alternate = null;
            if (parse.GetValue(altAddress) is { } altText)
            {
                if (!IPAddress.TryParse(altText, out alternate))
                {
                    return Usage($"--alt-address: '{altText}' is not an IP address");
                }
                if (endPoints.Count == 0 || endPoints[0].Address.Equals(IPAddress.Any) || endPoints[0].Address.Equals(IPAddress.IPv6Any))
                {
                    return Usage("--alt-address needs a specific first --listen IP (RFC 5780 reports exact addresses), e.g. --listen 192.0.2.1:3478 --alt-address 192.0.2.2");
                }
                if (alternate.AddressFamily != endPoints[0].AddressFamily)
                {
                    return Usage("--alt-address must be of the same family (IPv4/IPv6) as the first --listen address");
                }
            }
            var users = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string text in parse.GetValue(turnUser) ?? [])
            {
                int colon = text.IndexOf(':');
                if (colon <= 0 || colon == text.Length - 1)
                {
                    return Usage($"--turn-user: '{text}' is not NAME:PASSWORD");
                }
                users[text[..colon]] = text[(colon + 1)..];
            }
            if (!TryParseNetworks(parse.GetValue(allowPeer), "--allow-peer", out List<IPNetwork> allowed, out string? networkError)
                || !TryParseNetworks(parse.GetValue(denyPeer), "--deny-peer", out List<IPNetwork> denied, out networkError))
            {
                return Usage(networkError!);
            }
            var relayAddresses = new List<IPAddress>();
            foreach (string text in parse.GetValue(relayIp) ?? [])
            {
                if (!IPAddress.TryParse(text, out IPAddress? address))
                {
                    return Usage($"--relay-ip: '{text}' is not an IP address");
                }
                relayAddresses.Add(address);
            }
            int low = parse.GetValue(minPort), high = parse.GetValue(maxPort);
            if (low is < 1 or > 65535 || high is < 1 or > 65535 || low > high)
            {
                return Usage($"--min-port/--max-port: {low}-{high} is not a port range");
            }
            int grantTtl = parse.GetValue(turnGrantTtl);
            if (grantTtl < 1)
            {
                return Usage($"--turn-grant-ttl: {grantTtl} is not a number of seconds (1 or more)");
            }
            var turn = new TurnOptions
            {
                Enabled = !parse.GetValue(noTurn),
                GrantLifetime = TimeSpan.FromSeconds(grantTtl),
                Realm = parse.GetValue(realm) ?? TurnOptions.Default.Realm,
                Users = users,
                Secret = parse.GetValue(turnSecret),
                NoAuth = parse.GetValue(turnNoAuth),
                UserQuota = Math.Max(0, parse.GetValue(userQuota)),
                AllocationsPerAddress = Math.Max(0, parse.GetValue(allocationsPerIp)),
                TotalQuota = Math.Max(0, parse.GetValue(totalQuota)),
                MaxPermissionsPerAllocation = Math.Max(0, parse.GetValue(maxPermissions)),
                MaxBytesPerSecond = Math.Max(0, parse.GetValue(maxBps)),
                MaxBytesPerSecondPerUser = Math.Max(0, parse.GetValue(maxBpsPerUser)),
                MaxBytesPerSecondPerAddress = Math.Max(0, parse.GetValue(maxBpsPerIp)),
                MinPort = low,
                MaxPort = high,
                RelayAddresses = relayAddresses,
                AllowLoopbackPeers = parse.GetValue(allowLoopbackPeers),
                AllowedPeers = allowed,
                DeniedPeers = denied,
            };
            if (turn.NoAuth && (users.Count > 0 || turn.Secret is not null))
            {
                return Usage("--turn-no-auth cannot be combined with --turn-user or --turn-secret");
            }
            if (!turn.Enabled && (turn.NoAuth || users.Count > 0 || turn.Secret is not null))
            {
                // Silently ignoring TURN credentials would leave their users wondering why the relay refuses them.
                return Usage("--no-turn cannot be combined with --turn-user, --turn-secret or --turn-no-auth");
            }
            if (turn.NoAuth)
            {
                Console.Error.WriteLine("natpunch server: WARNING: --turn-no-auth: the TURN relay is open to anyone. Use it for tests only.");
            }
            if (parse.GetValue(maxConnections) < 1 || parse.GetValue(maxConnectionsPerIp) < 1)
            {
                return Usage("--max-connections and --max-connections-per-ip must be 1 or more");
            }
            if (parse.GetValue(handshakeTimeout) <= 0 || parse.GetValue(messageTimeout) <= 0 || parse.GetValue(registerTimeout) <= 0)
            {
                return Usage("--handshake-timeout, --message-timeout and --register-timeout are seconds, more than 0");
            }
            if (parse.GetValue(registerRate) < 1)
            {
                return Usage("--register-rate must be 1 or more");
            }
            if (parse.GetValue(rendezvousRate) <= 0 || parse.GetValue(rendezvousBurst) < 1 || parse.GetValue(rendezvousRatePerIp) < 0.1
                || parse.GetValue(rendezvousMaxFrame) is < 256 or > NatPunch.Protocol.Rendezvous.RendezvousFrame.MaxPayloadLength)
            {
                return Usage("--rendezvous-rate must be more than 0, --rendezvous-burst 1 or more, --rendezvous-rate-per-ip 0.1 or more, --rendezvous-max-frame 256-65535");
            }
            if (!TryParseEndPoints(parse.GetValue(tlsListen), "--tls-listen", out List<IPEndPoint> tlsEndPoints, out string? tlsListenError))
            {
                return Usage(tlsListenError!);
            }
            if (parse.GetValue(tlsCert) is null != parse.GetValue(tlsKey) is null || (tlsEndPoints.Count > 0 && parse.GetValue(tlsCert) is null))
            {
                return Usage("TLS needs --tls-cert FILE and --tls-key FILE together (and --tls-listen needs them)");
            }
            var options = new NatPunchServerOptions
            {
                Listen = endPoints,
                TlsListen = tlsEndPoints,
                TlsCertificateFile = parse.GetValue(tlsCert),
                TlsKeyFile = parse.GetValue(tlsKey),
                AlternateAddress = alternate,
                Turn = turn,
                MaxTcpConnections = parse.GetValue(maxConnections),
                MaxTcpConnectionsPerAddress = parse.GetValue(maxConnectionsPerIp),
                TcpHandshakeTimeout = TimeSpan.FromSeconds(parse.GetValue(handshakeTimeout)),
                TcpMessageTimeout = TimeSpan.FromSeconds(parse.GetValue(messageTimeout)),
                Rendezvous = RendezvousOptions.Default with
                {
                    Token = parse.GetValue(token),
                    RegisterTimeout = TimeSpan.FromSeconds(parse.GetValue(registerTimeout)),
                    RegistrationsPerMinute = parse.GetValue(registerRate),
                    MessagesPerSecond = parse.GetValue(rendezvousRate),
                    MessageBurst = parse.GetValue(rendezvousBurst),
                    MessagesPerSecondPerAddress = parse.GetValue(rendezvousRatePerIp),
                    MaxFrameLength = parse.GetValue(rendezvousMaxFrame),
                },
            };
            IPEndPoint? metricsEndPoint = null;
            if (parse.GetValue(metricsOption) is { } metricsText
                && !EndPointArgument.TryParseIPEndPoint(metricsText, out metricsEndPoint, out string metricsError))
            {
                return Usage($"--metrics: {metricsError}");
            }
            return await RunAsync(options, parse.GetValue(verbose), metricsEndPoint, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(NatPunchServerOptions options, bool verbose, IPEndPoint? metricsEndPoint, CancellationToken cancellationToken)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(sp => new NatPunchServer(options, sp.GetRequiredService<ILogger<NatPunchServer>>()));
        builder.Services.AddHostedService<NatPunchServerHostedService>();
        using IHost host = builder.Build();
        NatPunchServer server = host.Services.GetRequiredService<NatPunchServer>();
        try
        {
            server.Start();
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidDataException)
        {
            Console.Error.WriteLine($"natpunch server: {e.Message}");
            await server.DisposeAsync();
            return 1;
        }
        using var metrics = metricsEndPoint is null ? null : new PrometheusMetrics(server);
        if (metrics is not null)
        {
            try
            {
                metrics.Serve(metricsEndPoint!);
            }
            catch (Exception e) when (e is System.Net.HttpListenerException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                Console.Error.WriteLine($"natpunch server: --metrics {metricsEndPoint}: {e.Message}");
                await server.DisposeAsync();
                return 1;
            }
            host.Services.GetRequiredService<ILogger<NatPunchServer>>().LogInformation("Serving Prometheus metrics on http://{EndPoint}/metrics", metricsEndPoint);
        }
        await host.RunAsync(cancellationToken);
        return 0;
    }

    private static bool TryParseEndPoints(string[]? texts, string option, out List<IPEndPoint> endPoints, out string? error)
    {
        endPoints = [];
        error = null;
        foreach (string text in texts ?? [])
        {
            if (!EndPointArgument.TryParseIPEndPoint(text, out IPEndPoint endPoint, out string why))
            {
                error = $"{option}: {why}";
                return false;
            }
            endPoints.Add(endPoint);
        }
        return true;
    }

    private static bool TryParseNetworks(string[]? texts, string option, out List<IPNetwork> networks, out string? error)
    {
        networks = [];
        error = null;
        foreach (string text in texts ?? [])
        {
            string cidr = text.Contains('/') ? text
                : IPAddress.TryParse(text, out IPAddress? single) ? $"{text}/{(single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}" : text;
            if (!IPNetwork.TryParse(cidr, out IPNetwork network))
            {
                error = $"{option}: '{text}' is not a CIDR (examples: 10.0.0.0/8, fd00::/8, 192.0.2.7)";
                return false;
            }
            networks.Add(network);
        }
        return true;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"natpunch server: {message}");
        return Program.UsageError;
    }
}
