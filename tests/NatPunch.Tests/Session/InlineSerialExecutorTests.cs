using NatPunch.Session;

namespace NatPunch.Tests.Session;

public sealed class InlineSerialExecutorTests
{
    [Fact]
    public void APostRunsOnThePostingThreadWhenNothingElseRuns()
    {
        int afterRuns = 0;
        var executor = new InlineSerialExecutor(() => afterRuns++);
        int ranOn = -1;

        executor.TryPost(() => ranOn = Environment.CurrentManagedThreadId).ShouldBeTrue();

        ranOn.ShouldBe(Environment.CurrentManagedThreadId);
        afterRuns.ShouldBe(1);
    }

    [Fact]
    public void APostFromInsideAnActionRunsAfterIt()
    {
        var order = new List<string>();
        InlineSerialExecutor? executor = null;
        executor = new InlineSerialExecutor(() => order.Add("after"));

        executor.TryPost(() =>
        {
            order.Add("outer start");
            executor.TryPost(() => order.Add("inner"));
            order.Add("outer end");
        });

        order.ShouldBe(["outer start", "outer end", "inner", "after"]);
    }

    [Fact]
    public async Task ActionsFromManyThreadsRunOneAtATimeAndEachExactlyOnce()
    {
        int running = 0;
        int overlaps = 0;
        int ran = 0;
        var executor = new InlineSerialExecutor(() => { });
        const int Threads = 4;
        const int PerThread = 20_000;

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                executor.TryPost(() =>
                {
                    if (Interlocked.Increment(ref running) != 1)
                    {
                        overlaps++;
                    }
                    ran++; // unsynchronised on purpose: serial execution keeps it exact
                    Interlocked.Decrement(ref running);
                });
            }
        })));

        overlaps.ShouldBe(0);
        ran.ShouldBe(Threads * PerThread);
    }

    [Fact]
    public async Task CloseRunsWhatWasPostedBeforeAndRefusesWhatComesAfter()
    {
        var ran = new List<int>();
        InlineSerialExecutor? executor = null;
        executor = new InlineSerialExecutor(() => { });
        executor.TryPost(() =>
        {
            executor.TryPost(() => ran.Add(2)).ShouldBeTrue(); // queued behind this one, before the close
            executor.Close();
            ran.Add(1);
        });

        executor.TryPost(() => ran.Add(3)).ShouldBeFalse();
        await executor.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        ran.ShouldBe([1, 2]);
    }

    [Fact]
    public async Task AnActionThatThrowsEndsTheExecutorWithItsException()
    {
        var executor = new InlineSerialExecutor(() => { });

        executor.TryPost(() => throw new InvalidOperationException("a bug"));

        (await Should.ThrowAsync<InvalidOperationException>(executor.Completion)).Message.ShouldBe("a bug");
        executor.TryPost(() => { }).ShouldBeFalse();
    }
}
