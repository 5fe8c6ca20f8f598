using Microsoft.Extensions.Hosting;

namespace NatPunch.Server.Hosting;

/// <summary>
/// Keeps an already started <see cref="NatPunchServer"/> inside a generic host, so that Ctrl+C and
/// SIGTERM stop it cleanly. The server is started before the host so that a port already in use is
/// reported to the user as one clear line, not as a host start-up failure.
/// </summary>
public sealed class NatPunchServerHostedService : IHostedService
{
    private readonly NatPunchServer _server;

    public NatPunchServerHostedService(NatPunchServer server) => _server = server;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken) => await _server.DisposeAsync().ConfigureAwait(false);
}
