using System.Text.Json.Nodes;
using NatPunch.Cli.Peer;

namespace NatPunch.Tests.Cli;

/// <summary>What <c>listen</c>/<c>connect</c> print for their progress: sentences, or one JSON object per line.</summary>
public sealed class ProgressPrinterTests
{
    private static string Print(ConnectionProgress progress, bool json)
    {
        using var error = new StringWriter();
        new ProgressPrinter(error, json).Report(progress);
        return error.ToString().Trim();
    }

    [Fact]
    public void PunchingSaysHowManyPairsAreChecked()
    {
        Print(new ConnectionProgress.Punching(4), json: false).ShouldContain("checking 4 candidate pairs");
        JsonNode json = JsonNode.Parse(Print(new ConnectionProgress.Punching(4), json: true))!;
        json["event"]!.GetValue<string>().ShouldBe("punching");
        json["pairs"]!.GetValue<int>().ShouldBe(4);
    }

    [Fact]
    public void PunchingWithNoPairYetSaysCandidatesComeLater()
    {
        // --relay only: the relayed candidates are trickled after the introduction, so none is paired at first.
        string text = Print(new ConnectionProgress.Punching(0), json: false);
        text.ShouldNotContain("checking 0");
        text.ShouldContain("waiting for candidates");
        JsonNode.Parse(Print(new ConnectionProgress.Punching(0), json: true))!["pairs"]!.GetValue<int>().ShouldBe(0);
    }
}
