using System.CommandLine;
using System.Globalization;
using NatPunch.Cli.Commands;
using NatPunch.Net;
using NatPunch.Relay;

namespace NatPunch.Tests.Cli;

/// <summary>How <c>natpunch listen/connect</c> options become <see cref="PeerOptions"/>, and the usage errors they give.</summary>
public sealed class PeerCommandOptionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);

    private static bool TryRead(out PeerOptions options, out string error, params string[] extra) =>
        TryRead(_ => null, out options, out error, extra);

    private static bool TryRead(Func<string, string?> environment, out PeerOptions options, out string error, params string[] extra) =>
        TryRead(connect: false, environment, out options, out error, extra);

    private static bool TryRead(bool connect, Func<string, string?> environment, out PeerOptions options, out string error, params string[] extra)
    {
        var shared = new PeerCommandOptions(connect);
        var command = new Command(connect ? "connect" : "listen");
        shared.AddTo(command);
        ParseResult parse = command.Parse(["--server", "127.0.0.1:3478", "--id", "alice", .. extra]);
        parse.Errors.ShouldBeEmpty(string.Join("; ", parse.Errors.Select(e => e.Message)));
        return shared.TryRead(parse, Now, environment, out options, out error);
    }

    [Fact]
    public void PeerKeyAndAllowTakeTheKeyFormThatIdPrints()
    {
        using var bob = NatPunch.Security.PeerIdentity.Generate();
        using var carol = NatPunch.Security.PeerIdentity.Generate();
        TryRead(connect: true, _ => null, out PeerOptions connect, out string error, "--peer-key", bob.PublicKey.ToString()).ShouldBeTrue(error);
        connect.PeerKey.ShouldBe(bob.PublicKey);
        TryRead(connect: false, _ => null, out PeerOptions listen, out error, "--allow", bob.PublicKey.ToString(), "--allow", carol.PublicKey.ToString()).ShouldBeTrue(error);
        listen.AllowedKeys.ShouldBe([bob.PublicKey, carol.PublicKey]);
        listen.KnownPeers.ShouldNotBeNull();
    }

    [Theory]
    [InlineData("--peer-key", "short", "43 characters")]
    [InlineData("--peer-key", "ab$defghijklmnopqrstuvwxyzabcdefghijklmnopq", "base64url")]
    public void AMalformedKeyIsAUsageErrorThatSaysWhy(string option, string value, string expected)
    {
        TryRead(connect: true, _ => null, out _, out string error, option, value).ShouldBeFalse();
        error.ShouldStartWith(option);
        error.ShouldContain(expected);
    }

    [Fact]
    public void PortProbingIsOnByDefaultItsBoundsCanBeSetAndItCanBeTurnedOff()
    {
        TryRead(out PeerOptions defaults, out string error).ShouldBeTrue(error);
        defaults.Ice.PortProbing.ShouldBe(NatPunch.Traversal.PortProbingOptions.Default);
        TryRead(out PeerOptions bounded, out error, "--probe-sockets", "64", "--probes", "500", "--probe-rate", "50").ShouldBeTrue(error);
        bounded.Ice.PortProbing.ShouldBe(NatPunch.Traversal.PortProbingOptions.Default with { Sockets = 64, Probes = 500, ProbesPerSecond = 50 });
        TryRead(out PeerOptions off, out error, "--no-port-probing").ShouldBeTrue(error);
        off.Ice.PortProbing.ShouldBeNull();
    }

    [Theory]
    [InlineData("--probe-sockets", "0")]
    [InlineData("--probe-sockets", "5000")]
    [InlineData("--probes", "0")]
    [InlineData("--probes", "70000")]
    [InlineData("--probe-rate", "0")]
    public void PortProbingBoundsOutOfRangeAreAUsageError(string option, string value)
    {
        TryRead(out _, out string error, option, value).ShouldBeFalse();
        error.ShouldContain(option);
    }

    [Fact]
    public void TurnCredentialsCanComeFromTheEnvironmentInsteadOfTheCommandLine()
    {
        var environment = new Dictionary<string, string> { ["NATPUNCH_TURN_USER"] = "carol:s3:cret" };
        TryRead(name => environment.GetValueOrDefault(name), out PeerOptions options, out string error, "--turn", "turn:192.0.2.7").ShouldBeTrue(error);
        options.TurnCredentials.ShouldBe(new TurnCredentials("carol", "s3:cret"));

        environment = new Dictionary<string, string> { ["NATPUNCH_TURN_SECRET"] = "north-wind" };
        TryRead(name => environment.GetValueOrDefault(name), out options, out error, "--turn", "turn:192.0.2.7").ShouldBeTrue(error);
        options.TurnCredentials!.Username.ShouldEndWith(":alice");

        // The command line wins; without --turn the variables are not used (the server's own relay needs none).
        environment = new Dictionary<string, string> { ["NATPUNCH_TURN_USER"] = "carol:env" };
        TryRead(name => environment.GetValueOrDefault(name), out options, out error, "--turn", "turn:192.0.2.7", "--turn-user", "dave:cli").ShouldBeTrue(error);
        options.TurnCredentials.ShouldBe(new TurnCredentials("dave", "cli"));
        TryRead(name => environment.GetValueOrDefault(name), out options, out error).ShouldBeTrue(error);
        options.TurnCredentials.ShouldBeNull();
    }

    [Fact]
    public void TheProxyComesFromTheOptionOrTheEnvironmentAndThePinIsHex()
    {
        var environment = new Dictionary<string, string> { ["HTTPS_PROXY"] = "http://env-proxy:3128", ["NO_PROXY"] = "127.0.0.1" };
        TryRead(environment.GetValueOrDefault, out PeerOptions options, out string error).ShouldBeTrue(error);
        options.ServerConnection.Proxy!.Server.Host.ShouldBe("env-proxy");
        options.ServerConnection.Proxy.Bypasses("127.0.0.1").ShouldBeTrue();

        TryRead(environment.GetValueOrDefault, out options, out error, "--proxy", "http://u:p@cli-proxy:8080").ShouldBeTrue(error);
        options.ServerConnection.Proxy!.Server.ShouldBe(new HostAndPort("cli-proxy", 8080));
        options.ServerConnection.Proxy.Credentials!.UserName.ShouldBe("u");

        TryRead(environment.GetValueOrDefault, out options, out error, "--proxy", "").ShouldBeTrue(error);
        options.ServerConnection.Proxy.ShouldBeNull();

        string pin = string.Join(':', Enumerable.Range(0, 32).Select(i => i.ToString("X2", CultureInfo.InvariantCulture)));
        Read("--server-cert-sha256", pin).ServerConnection.PinnedCertificateSha256.ShouldBe(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        UsageError("--server-cert-sha256", "abcd").ShouldContain("64 hex digits");
        UsageError("--proxy", "https://p").ShouldStartWith("--proxy: ");
    }

    private static PeerOptions Read(params string[] extra)
    {
        TryRead(out PeerOptions options, out string error, extra).ShouldBeTrue(error);
        return options;
    }

    private static string UsageError(params string[] extra)
    {
        TryRead(out _, out string error, extra).ShouldBeFalse();
        error.ShouldNotBeNullOrWhiteSpace();
        return error;
    }

    [Fact]
    public void RelayIsAutoByDefaultWithTheServersOwnRelay()
    {
        PeerOptions options = Read();

        options.Relay.ShouldBe(RelayMode.Auto);
        options.TurnServer.ShouldBeNull();
        options.TurnCredentials.ShouldBeNull();
        options.Name.ShouldBe("alice");
    }

    [Theory]
    [InlineData("auto", RelayMode.Auto)]
    [InlineData("never", RelayMode.Never)]
    [InlineData("only", RelayMode.Only)]
    [InlineData("Only", RelayMode.Only)]
    public void RelayModes(string text, RelayMode mode) =>
        Read("--relay", text).Relay.ShouldBe(mode);

    [Theory]
    [InlineData("sometimes")]
    [InlineData("")]
    [InlineData("direct")]
    public void AnUnknownRelayModeIsAUsageError(string text) =>
        UsageError("--relay", text).ShouldBe($"--relay must be auto, never or only, not '{text}'");

    [Fact]
    public void TurnWithLongTermCredentials()
    {
        PeerOptions options = Read("--relay", "only", "--turn", "turn:127.0.0.1:3479?transport=tcp", "--turn-user", "u:p");

        options.Relay.ShouldBe(RelayMode.Only);
        options.TurnServer.ShouldBe(new TurnServerUri(new HostAndPort("127.0.0.1", 3479), TurnServerTransport.Tcp));
        options.TurnCredentials.ShouldBe(new TurnCredentials("u", "p"));
    }

    [Fact]
    public void TheTurnPasswordMayContainColons() =>
        Read("--turn", "turn:example.org", "--turn-user", "bob:a:b:c").TurnCredentials.ShouldBe(new TurnCredentials("bob", "a:b:c"));

    [Fact]
    public void TurnSecretDerivesRestCredentialsValidForADayNamedAfterTheId()
    {
        PeerOptions options = Read("--turn", "turn:example.org", "--turn-secret", "s3cret");

        DateTimeOffset expiry = Now + TimeSpan.FromHours(24);
        options.TurnCredentials.ShouldBe(TurnCredentials.FromSharedSecret("s3cret", expiry, "alice"));
        options.TurnCredentials!.Username.ShouldBe($"{expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}:alice");
    }

    [Fact]
    public void TurnWorksWithRelayAuto() =>
        Read("--turn", "turn:example.org", "--turn-user", "u:p").Relay.ShouldBe(RelayMode.Auto);

    [Theory]
    [InlineData("turns:example.org?transport=udp", "not supported")]
    [InlineData("turn:example.org?foo=1", "unknown parameter 'foo'")]
    [InlineData("turn:[::1", "']'")]
    [InlineData("example.org:3478", "expected turn:")]
    public void ABadTurnUriIsAUsageErrorWithTheParsersMessage(string uri, string message)
    {
        string error = UsageError("--turn", uri, "--turn-user", "u:p");

        error.ShouldStartWith("--turn: ");
        error.ShouldContain(message);
    }

    [Fact]
    public void TurnNeedsCredentials() =>
        UsageError("--turn", "turn:example.org").ShouldContain("--turn needs credentials");

    [Fact]
    public void TurnUserAndTurnSecretExcludeEachOther() =>
        UsageError("--turn", "turn:example.org", "--turn-user", "u:p", "--turn-secret", "s").ShouldContain("cannot be combined");

    [Theory]
    [InlineData("--turn-user", "u:p")]
    [InlineData("--turn-secret", "s")]
    public void CredentialsNeedTurn(string option, string value) =>
        UsageError(option, value).ShouldBe($"{option} needs --turn (the TURN server the credentials are for)");

    [Fact]
    public void TurnWithRelayNeverIsAUsageError() =>
        UsageError("--relay", "never", "--turn", "turn:example.org", "--turn-user", "u:p").ShouldBe("--turn has no effect with --relay never");

    [Theory]
    [InlineData("hunter2")]
    [InlineData(":hunter2")]
    [InlineData("bob:")]
    public void ABadTurnUserDoesNotEchoThePassword(string user)
    {
        string error = UsageError("--turn", "turn:example.org", "--turn-user", user);

        error.ShouldContain("NAME:PASSWORD");
        error.ShouldNotContain("hunter2");
        error.ShouldNotContain("bob");
    }

    [Fact]
    public void CredentialsDoNotShowTheirPasswordWhenPrinted()
    {
        PeerOptions options = Read("--turn", "turn:example.org", "--turn-user", "bob:hunter2");

        options.ToString().ShouldNotContain("hunter2");
        options.TurnCredentials!.ToString().ShouldNotContain("hunter2");
    }
}
