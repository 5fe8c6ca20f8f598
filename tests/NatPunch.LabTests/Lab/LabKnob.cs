using NatPunch.Testing;

namespace NatPunch.LabTests.Lab;

/// <summary>
/// A temporary change to the lab (loss, blocked UDP, a NAT switched to another behaviour) that is
/// undone on dispose, whatever the test did. Undoing never takes the test's cancellation token:
/// the lab must be left as it was found (hence <c>lab.sh exec</c>, which
/// <see cref="LabFixture.LabAsync"/> runs without a token, rather than <see cref="LabFixture.Exec"/>).
/// </summary>
public sealed class LabKnob : IAsyncDisposable
{
    private static readonly TimeSpan KnobTimeout = TimeSpan.FromSeconds(30);

    private readonly Func<Task> _undo;
    private int _undone;

    private LabKnob(string what, Func<Task> undo)
    {
        What = what;
        _undo = undo;
    }

    public string What { get; }

    /// <summary>
    /// <c>lab.sh loss PERCENT</c> on the internet bridge, and the same rule on the LAN bridge of the
    /// routers of <paramref name="lanKinds"/>: two hosts behind one NAT talk over their LAN, which
    /// the internet's loss never touches.
    /// </summary>
    public static async Task<LabKnob> LossAsync(LabFixture lab, int percent, params string[] lanKinds)
    {
        var knob = new LabKnob($"loss {percent} %" + (lanKinds.Length > 0 ? $" (also on the LAN of {string.Join(", ", lanKinds)})" : ""), async () =>
        {
            ExternalProcess.Result off = await lab.LabAsync(KnobTimeout, "loss", "0", lab.Prefix);
            off.ExitCode.ShouldBe(0, off.ToString());
            foreach (string kind in lanKinds)
            {
                // "delete" fails when the table is gone already; that is fine.
                await lab.LabAsync(KnobTimeout, "exec", lab.Info[$"router_{kind}_ns"], "--", "nft", "delete", "table", "bridge", "lanloss");
            }
        });
        try
        {
            ExternalProcess.Result on = await lab.LabAsync(KnobTimeout, "loss", percent.ToString(System.Globalization.CultureInfo.InvariantCulture), lab.Prefix);
            on.ExitCode.ShouldBe(0, on.ToString());
            foreach (string kind in lanKinds)
            {
                // The rule of lab.sh loss, on the router's LAN bridge: frames between its two hosts.
                string ns = lab.Info[$"router_{kind}_ns"];
                string rules = $"table bridge lanloss {{ chain forward {{ type filter hook forward priority filter; policy accept; ether type ip numgen random mod 100 < {percent} counter drop; }}; }}";
                ExternalProcess.Result lan = await lab.Exec(ns, ["nft", rules], KnobTimeout);
                lan.ExitCode.ShouldBe(0, lan.ToString());
            }
        }
        catch
        {
            await knob.DisposeAsync();
            throw;
        }
        return knob;
    }

    /// <summary>Frames dropped so far by the LAN loss rule of <paramref name="kind"/>'s router (0 if there is none).</summary>
    public static async Task<long> LanDropsAsync(LabFixture lab, string kind)
    {
        ExternalProcess.Result list = await lab.Exec(lab.Info[$"router_{kind}_ns"], ["nft", "list", "table", "bridge", "lanloss"], KnobTimeout);
        var match = System.Text.RegularExpressions.Regex.Match(list.StandardOutput, @"counter packets (\d+)");
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary><c>lab.sh block-udp KIND on</c> now; <see cref="DisposeAsync"/> (or <see cref="UndoAsync"/>) turns it off.</summary>
    public static async Task<LabKnob> BlockUdpAsync(LabFixture lab, string kind)
    {
        var knob = new LabKnob($"block-udp {kind}", async () =>
        {
            ExternalProcess.Result off = await lab.LabAsync(KnobTimeout, "block-udp", kind, "off", lab.Prefix);
            off.ExitCode.ShouldBe(0, off.ToString());
        });
        ExternalProcess.Result on = await lab.LabAsync(KnobTimeout, "block-udp", kind, "on", lab.Prefix);
        if (on.ExitCode != 0)
        {
            await knob.DisposeAsync();
            on.ExitCode.ShouldBe(0, on.ToString());
        }
        return knob;
    }

    /// <summary>
    /// <c>lab.sh lockdown KIND MODE</c>: from <paramref name="kind"/>'s LAN only TCP to port 443 goes out
    /// (<c>443</c>), or nothing (<c>proxy</c>: only a proxy on the router reaches out); undone on dispose.
    /// </summary>
    public static async Task<LabKnob> LockdownAsync(LabFixture lab, string kind, string mode)
    {
        var knob = new LabKnob($"lockdown {kind} {mode}", async () =>
        {
            ExternalProcess.Result off = await lab.LabAsync(KnobTimeout, "lockdown", kind, "off", lab.Prefix);
            off.ExitCode.ShouldBe(0, off.ToString());
        });
        ExternalProcess.Result on = await lab.LabAsync(KnobTimeout, "lockdown", kind, mode, lab.Prefix);
        if (on.ExitCode != 0)
        {
            await knob.DisposeAsync();
            on.ExitCode.ShouldBe(0, on.ToString());
        }
        return knob;
    }

    /// <summary>
    /// Makes the carrier NAT in front of the <c>cgnat</c> site symmetric: its masquerade becomes
    /// <c>masquerade fully-random</c> (the lab's <c>sym</c> recipe, docs/lab.md), so the cgnat hosts
    /// are behind a symmetric NAT (EIM home router + APDM carrier NAT = APDM). The lab has one
    /// router per kind; this gives a second, different symmetric NAT for symmetric ↔ symmetric.
    /// </summary>
    public static async Task<LabKnob> SymmetricCarrierNatAsync(LabFixture lab)
    {
        string ns = lab.Info["cgn_ns"];
        int handle = await MasqueradeHandleAsync(lab, ns);
        var knob = new LabKnob("symmetric carrier NAT", async () =>
        {
            ExternalProcess.Result back = await lab.LabAsync(KnobTimeout, "exec", ns, "--",
                "nft", "replace", "rule", "ip", "natlab", "postrouting", "handle", handle.ToString(System.Globalization.CultureInfo.InvariantCulture), "oifname", "wan", "masquerade");
            back.ExitCode.ShouldBe(0, back.ToString());
        });
        ExternalProcess.Result change = await lab.Exec(ns,
            ["nft", "replace", "rule", "ip", "natlab", "postrouting", "handle", handle.ToString(System.Globalization.CultureInfo.InvariantCulture), "oifname", "wan", "masquerade", "fully-random"],
            KnobTimeout);
        if (change.ExitCode != 0)
        {
            await knob.DisposeAsync();
            change.ExitCode.ShouldBe(0, change.ToString());
        }
        return knob;
    }

    private static async Task<int> MasqueradeHandleAsync(LabFixture lab, string ns)
    {
        ExternalProcess.Result list = await lab.Exec(ns, ["nft", "-a", "list", "chain", "ip", "natlab", "postrouting"], KnobTimeout);
        list.ExitCode.ShouldBe(0, list.ToString());
        foreach (string line in list.StandardOutput.Split('\n'))
        {
            if (line.Contains("masquerade", StringComparison.Ordinal) && line.Contains("# handle ", StringComparison.Ordinal)
                && !line.Contains("fully-random", StringComparison.Ordinal))
            {
                return int.Parse(line[(line.LastIndexOf("# handle ", StringComparison.Ordinal) + 9)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"no plain masquerade rule in {ns}'s postrouting chain:\n{list.StandardOutput}");
    }

    /// <summary>Undoes the change now (once); later calls and dispose do nothing.</summary>
    public async Task UndoAsync()
    {
        if (Interlocked.Exchange(ref _undone, 1) == 0)
        {
            await _undo();
        }
    }

    public async ValueTask DisposeAsync() => await UndoAsync();
}
