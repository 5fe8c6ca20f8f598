namespace NatPunch.Tests;

/// <summary>A test's cancellation cut off after a patience: a hang fails the one test instead of stalling the run.</summary>
internal static class TestDeadline
{
    public static CancellationToken After(TimeSpan patience)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(patience);
        return cts.Token;
    }
}
