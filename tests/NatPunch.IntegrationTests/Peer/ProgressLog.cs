namespace NatPunch.IntegrationTests.Peer;

/// <summary>Every progress report as it happens (Progress&lt;T&gt; would post them later).</summary>
internal sealed class ProgressLog : IProgress<ConnectionProgress>
{
    private readonly List<ConnectionProgress> _reports = [];

    public void Report(ConnectionProgress value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }
    }

    public List<T> Of<T>() where T : ConnectionProgress
    {
        lock (_reports)
        {
            return _reports.OfType<T>().ToList();
        }
    }

    public override string ToString()
    {
        lock (_reports)
        {
            return string.Join("\n", _reports);
        }
    }
}
