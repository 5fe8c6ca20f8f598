using NatPunch.Protocol.Rendezvous;
using NatPunch.Protocol.Stun;
using NatPunch.Protocol.Turn;
using NatPunch.Server.Turn;

namespace NatPunch.Tests.Turn;

/// <summary>The rendezvous' TURN grants: how they are minted, and that the relay core takes them, and only while valid.</summary>
public sealed class TurnGrantTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private readonly FakeTurnEnvironment _environment = new();

    [Fact]
    public void GrantIsATurnRestCredentialForTheRegisteredName()
    {
        var issuer = new TurnGrantIssuer("s3cret", TimeSpan.FromHours(2));
        TurnGrant grant = issuer.Issue("bob", Now);
        grant.Username.ShouldBe("1700007200:bob");
        grant.Password.ShouldBe(TurnRestCredentials.Password("s3cret", grant.Username));
        grant.TtlS.ShouldBe(7200);
        TurnRestCredentials.TryGetExpiry(grant.Username, out DateTimeOffset expiry).ShouldBeTrue();
        expiry.ShouldBe(Now.AddHours(2));
    }

    [Fact]
    public void ColonsInTheNameAreReplacedSoTheUsernameHasOneSeparator()
    {
        TurnGrant grant = new TurnGrantIssuer("s", TimeSpan.FromMinutes(1)).Issue("a:b:c", Now);
        grant.Username.ShouldBe("1700000060:a_b_c");
        grant.Username.Count(c => c == ':').ShouldBe(1);
    }

    [Fact]
    public void VeryLongNamesAreCut()
    {
        TurnGrant grant = new TurnGrantIssuer("s", TimeSpan.FromMinutes(1)).Issue(new string('n', 1000), Now);
        grant.Username.Length.ShouldBe("1700000060:".Length + 128);
    }

    [Fact]
    public void LifetimeIsWholeSecondsAndAtLeastOne()
    {
        new TurnGrantIssuer("s", TimeSpan.Zero).Lifetime.ShouldBe(TimeSpan.FromSeconds(1));
        new TurnGrantIssuer("s", TimeSpan.FromSeconds(90.7)).Issue("x", Now).TtlS.ShouldBe(90);
    }

    [Fact]
    public void RelayIssuerUsesTheConfiguredSecretElseARandomOne()
    {
        TurnGrantIssuer.ForRelay(new TurnOptions { Secret = "shared" }).Secret.ShouldBe("shared");
        string first = TurnGrantIssuer.ForRelay(TurnOptions.Default).Secret;
        string second = TurnGrantIssuer.ForRelay(TurnOptions.Default).Secret;
        first.ShouldNotBe(second);
        Convert.FromBase64String(first).Length.ShouldBe(32);
    }

    [Fact]
    public void DefaultOptionsRunTheRelayWithAnHourLongGrant()
    {
        TurnOptions.Default.Enabled.ShouldBeTrue();
        TurnOptions.Default.GrantLifetime.ShouldBe(TimeSpan.FromHours(1));
        TurnGrantIssuer.ForRelay(TurnOptions.Default).Issue("x", Now).TtlS.ShouldBe(3600);
    }

    [Fact]
    public void CoreAcceptsAGrantAlongsideStaticUsers()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromHours(1));
        TurnCore core = Core(new TurnOptions { Users = new Dictionary<string, string> { ["alice"] = "wonderland" } }, issuer);

        TurnTestClient peer = Client(core, "192.0.2.10:40000", issuer.Issue("bob", Now));
        TurnTestClient.Response allocated = peer.Allocate();
        allocated.IsSuccess.ShouldBeTrue(allocated.ToString());
        allocated.IntegrityValid.ShouldBeTrue();

        TurnTestClient alice = Client(core, "192.0.2.11:40000", new TurnGrant("alice", "wonderland", 0));
        alice.Allocate().IsSuccess.ShouldBeTrue();
        core.AllocationCount.ShouldBe(2);
    }

    [Fact]
    public void GrantStopsWorkingWhenItsTtlHasPassed()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromSeconds(60));
        TurnCore core = Core(TurnOptions.Default, issuer);
        TurnGrant grant = issuer.Issue("bob", Now);

        TurnTestClient early = Client(core, "192.0.2.10:40000", grant);
        early.Now = Now.AddSeconds(59);
        early.Allocate().IsSuccess.ShouldBeTrue();

        TurnTestClient late = Client(core, "192.0.2.11:40000", grant);
        late.Now = Now.AddSeconds(60);
        late.Allocate().ErrorCode.ShouldBe(StunErrorCode.Unauthorized);

        // The allocation made in time lives on: the grant bounds when allocations are made, not how
        // long they last (the registration's end revokes them). Its refreshes still prove the password.
        early.Now = Now.AddSeconds(61);
        TurnTestClient.Response refreshed = early.Parse(early.Request(StunMethod.Refresh));
        refreshed.IsSuccess.ShouldBeTrue(refreshed.ToString());
        refreshed.IntegrityValid.ShouldBeTrue();
        TurnTestClient forged = Client(core, "192.0.2.10:40000", grant with { Password = Tamper(grant.Password) });
        forged.Now = Now.AddSeconds(62);
        forged.Parse(forged.Request(StunMethod.Refresh)).ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        // Another client (5-tuple) with the expired grant gets nothing, even for a request other than Allocate.
        late.Parse(late.Request(StunMethod.Refresh)).ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
    }

    [Fact]
    public void TamperedOrForeignGrantsAreUnauthorized()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromHours(1));
        TurnCore core = Core(TurnOptions.Default, issuer);
        TurnGrant grant = issuer.Issue("bob", Now);

        Client(core, "192.0.2.10:40000", grant with { Password = Tamper(grant.Password) }).Allocate()
            .ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        // A later expiry with the old password: the HMAC covers the username.
        string extended = TurnRestCredentials.Username(Now.AddDays(30), "bob");
        Client(core, "192.0.2.11:40000", grant with { Username = extended }).Allocate()
            .ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        Client(core, "192.0.2.12:40000", new TurnGrantIssuer("another", TimeSpan.FromHours(1)).Issue("bob", Now)).Allocate()
            .ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        core.AllocationCount.ShouldBe(0);
    }

    [Fact]
    public void ARevokedGrantIsRefusedAndItsAllocationsAreDeletedWhileOthersStay()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromHours(1));
        TurnCore core = Core(TurnOptions.Default, issuer);
        TurnGrant bobs = issuer.Issue("bob", Now), carols = issuer.Issue("carol", Now);
        Client(core, "192.0.2.10:40000", bobs).Allocate().IsSuccess.ShouldBeTrue();
        Client(core, "192.0.2.11:40000", carols).Allocate().IsSuccess.ShouldBeTrue();

        issuer.Revoked.Revoke(bobs.Username, Now);
        core.Expire(Now.AddSeconds(1));

        core.AllocationCount.ShouldBe(1, "bob's allocation went with his registration; carol's stays");
        Client(core, "192.0.2.12:40000", bobs).Allocate().ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
        Client(core, "192.0.2.13:40000", carols).Allocate().IsSuccess.ShouldBeTrue();
    }

    [Fact]
    public void AnAllocationThatOutlivedItsGrantStillEndsWhenTheGrantIsRevoked()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromSeconds(60));
        TurnCore core = Core(TurnOptions.Default, issuer);
        TurnGrant grant = issuer.Issue("bob", Now);
        TurnTestClient bob = Client(core, "192.0.2.10:40000", grant);
        bob.Allocate().IsSuccess.ShouldBeTrue();

        bob.Now = Now.AddSeconds(120); // the grant expired a minute ago; the allocation lives on
        bob.Parse(bob.Request(StunMethod.Refresh)).IsSuccess.ShouldBeTrue();
        issuer.Revoked.Revoke(grant.Username, Now.AddSeconds(120)); // its registration ended
        core.Expire(Now.AddSeconds(121));

        core.AllocationCount.ShouldBe(0);
        bob.Now = Now.AddSeconds(122);
        bob.Parse(bob.Request(StunMethod.Refresh)).ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
    }

    [Fact]
    public void WithoutTheGrantSecretTheCoreRefusesGrants()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromHours(1));
        TurnCore core = Core(TurnOptions.Default, grants: null);
        Client(core, "192.0.2.10:40000", issuer.Issue("bob", Now)).Allocate().ErrorCode.ShouldBe(StunErrorCode.Unauthorized);
    }

    [Fact]
    public void ConfiguredSecretAndADifferentGrantSecretBothWork()
    {
        var issuer = new TurnGrantIssuer("internal", TimeSpan.FromHours(1));
        TurnCore core = Core(new TurnOptions { Secret = "configured" }, issuer);
        Client(core, "192.0.2.10:40000", issuer.Issue("bob", Now)).Allocate().IsSuccess.ShouldBeTrue();
        Client(core, "192.0.2.11:40000", new TurnGrantIssuer("configured", TimeSpan.FromHours(1)).Issue("carol", Now)).Allocate()
            .IsSuccess.ShouldBeTrue();
    }

    private TurnCore Core(TurnOptions options, TurnGrantIssuer? grants)
    {
        options = options with { Realm = TurnTestClient.Realm };
        return new TurnCore(options, _environment, new TurnAuthenticator(options, grantSecret: grants?.Secret, revoked: grants?.Revoked), new Random(7));
    }

    private TurnTestClient Client(TurnCore core, string address, TurnGrant grant) =>
        new(core, _environment, TurnClient.Create(System.Net.IPEndPoint.Parse(address), System.Net.IPEndPoint.Parse("198.51.100.1:3478"), TurnClientTransport.Udp))
        {
            Username = grant.Username,
            Password = grant.Password,
            Now = Now,
        };

    private static string Tamper(string password) => (password[0] == 'A' ? "B" : "A") + password[1..];
}
