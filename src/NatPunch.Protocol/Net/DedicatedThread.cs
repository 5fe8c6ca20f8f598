namespace NatPunch.Protocol.Net;

/// <summary>
/// Runs a blocking loop on a thread of its own, seen from async code as a <see cref="Task"/> that
/// ends with it (the server's UDP and relay loops, a peer link's socket reader). A socket loop that blocks in the kernel costs one system call per wake-up; the
/// same loop on the thread pool pays for an epoll hand-off and a pool dispatch per datagram.
/// </summary>
internal static class DedicatedThread
{
    public static Task Start(string name, Action body)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                body();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }
}
