using NatPunch.Security;

namespace NatPunch.Tests.Security;

/// <summary>The identity file (created 0600, refused when others can read it) and the known-peers file.</summary>
public sealed class IdentityFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("natpunch-identity-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void CreatedOnFirstUseWithMode0600AndTheSameKeyAfterwards()
    {
        string path = Path.Combine(_directory, "sub", "identity");
        using PeerIdentity first = IdentityFile.LoadOrCreate(path, out bool created);
        created.ShouldBeTrue();
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(path).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.GetUnixFileMode(Path.GetDirectoryName(path)!).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        using PeerIdentity again = IdentityFile.LoadOrCreate(path, out created);
        created.ShouldBeFalse();
        again.PublicKey.ShouldBe(first.PublicKey);
        File.ReadAllText(path).ShouldContain(first.PublicKey.ToString());
    }

    [Fact]
    public void AFileOthersCanReadIsRefusedAsSshRefusesIt()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        string path = Path.Combine(_directory, "identity");
        IdentityFile.LoadOrCreate(path, out _).Dispose();
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var e = Should.Throw<IdentityFileException>(() => IdentityFile.Load(path));
        e.Message.ShouldContain("0640");
        e.Message.ShouldContain($"chmod 600 {path}");
    }

    [Fact]
    public void AGarbledFileSaysSo()
    {
        string path = Path.Combine(_directory, "identity");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options))
        {
            writer.Write("private-key: not-a-key\n");
        }
        Should.Throw<IdentityFileException>(() => IdentityFile.Load(path)).Message.ShouldContain("no valid 'private-key:' line");
    }

    [Fact]
    public void KnownPeersRecordsFirstUseAndKeepsTheFirstKey()
    {
        using var bob = PeerIdentity.Generate();
        using var mallory = PeerIdentity.Generate();
        var known = new KnownPeers(Path.Combine(_directory, "known_peers"));
        known.Lookup("bob").ShouldBeNull();
        known.Remember("bob", bob.PublicKey);
        known.Remember("bob", mallory.PublicKey); // a name is recorded once
        new KnownPeers(known.Path).Lookup("bob").ShouldBe(bob.PublicKey);
    }

    [Fact]
    public void AMalformedKnownPeersLineNamesItsLineNumber()
    {
        string path = Path.Combine(_directory, "known_peers");
        File.WriteAllText(path, "# comment\n\nbob not-a-key\n");
        Should.Throw<IdentityFileException>(() => new KnownPeers(path).Lookup("bob")).Message.ShouldContain(":3:");
    }

    [Fact]
    public void APolicyWithAKnownKeyRefusesAChangedOneNamingBothAndTheFile()
    {
        using var bob = PeerIdentity.Generate();
        using var mallory = PeerIdentity.Generate();
        var known = new KnownPeers(Path.Combine(_directory, "known_peers"));
        known.Remember("bob", bob.PublicKey);
        var policy = new PeerKeyPolicy("bob", null, [], known);
        policy.Expected.ShouldBe(bob.PublicKey);
        policy.Authorize(bob.PublicKey).ShouldBeNull();
        string refusal = policy.Authorize(mallory.PublicKey)!;
        refusal.ShouldContain("HAS CHANGED");
        refusal.ShouldContain(bob.PublicKey.ToString());
        refusal.ShouldContain(mallory.PublicKey.ToString());
        refusal.ShouldContain(known.Path);
    }

    [Fact]
    public void AnAllowListRefusesOthersAndDoesNotRecord()
    {
        using var alice = PeerIdentity.Generate();
        using var mallory = PeerIdentity.Generate();
        var known = new KnownPeers(Path.Combine(_directory, "known_peers"));
        var policy = new PeerKeyPolicy("alice", null, [alice.PublicKey], known);
        policy.Authorize(alice.PublicKey).ShouldBeNull();
        policy.Authorize(mallory.PublicKey)!.ShouldContain(mallory.PublicKey.ToString());
        policy.Record(alice.PublicKey);
        known.Lookup("alice").ShouldBeNull();
    }
}
