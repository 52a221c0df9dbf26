// SPDX-License-Identifier: BSD-3-Clause
//
// synq-server: the reference backend of the Synq sync protocol (docs/protocol.md).
//
//   synq-server --listen 127.0.0.1:8080 --database sqlite:synq-server.sqlite
//               [--tokens FILE] [--server-assigned-keys COLLECTION,...]
//               [--tombstone-horizon SECONDS]
//
// Prints "listening on http://ADDRESS:PORT" on stdout once it serves. SIGTERM and SIGINT stop
// it cleanly (exit code 0). Bad flags: a message on stderr, exit code 2; a database or port
// that cannot be opened: exit code 1.

#include "httpadapter.h"
#include "serverlogging.h"
#include "serveroptions.h"
#include "serverstore.h"
#include "syncservice.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTimer>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Synq::Server;

namespace {

// A signal handler may only write(2): it wakes the event loop through this socket pair.
int signalSockets[2] = { -1, -1 };

void onStopSignal(int)
{
    const char byte = 1;
    [[maybe_unused]] const ssize_t written = ::write(signalSockets[0], &byte, 1);
}

bool installStopSignals()
{
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, signalSockets) != 0)
        return false;
    struct sigaction action = {};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (::sigaction(SIGTERM, &action, nullptr) != 0 || ::sigaction(SIGINT, &action, nullptr) != 0)
        return false;
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}

void printError(const QString &text)
{
    std::fputs(qPrintable(text), stderr);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

// Prune often enough that a tombstone outlives the horizon by at most half of it (bounded).
std::chrono::milliseconds pruneInterval(qint64 horizonSeconds)
{
    using namespace std::chrono_literals;
    const std::chrono::milliseconds half(horizonSeconds * 500);
    return std::clamp<std::chrono::milliseconds>(half, 250ms, 1h);
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("synq-server"));
    QCoreApplication::setApplicationVersion(QStringLiteral(SYNQ_SERVER_VERSION));

    ServerOptions options;
    QString message;
    switch (parseOptions(QCoreApplication::arguments(), &options, &message)) {
    case ParseResult::Error:
        printError(message);
        return 2;
    case ParseResult::Help:
    case ParseResult::Version:
        std::fputs(qPrintable(message), stdout);
        return 0;
    case ParseResult::Ok:
        break;
    }

    if (!installStopSignals()) {
        printError(QStringLiteral("synq-server: cannot install the signal handlers"));
        return 1;
    }

    ServerStore store(options.database);
    if (!store.open()) {
        printError(QStringLiteral("synq-server: cannot open the database %1: %2")
                           .arg(options.database.describe(), store.lastError()));
        return 1;
    }
    SyncService service(&store, options);
    service.pruneTombstones();

    HttpAdapter adapter([&service](const HttpRequest &request) { return service.handle(request); },
                        MaxRequestBodyBytes);
    QString error;
    if (!adapter.listen(options.address, options.port, &error)) {
        printError(QStringLiteral("synq-server: cannot listen on %1:%2: %3")
                           .arg(options.address.toString())
                           .arg(options.port)
                           .arg(error));
        return 1;
    }

    QSocketNotifier stopNotifier(signalSockets[1], QSocketNotifier::Read);
    QObject::connect(&stopNotifier, &QSocketNotifier::activated, &app, [] {
        char byte = 0;
        [[maybe_unused]] const ssize_t read = ::read(signalSockets[1], &byte, 1);
        qCInfo(lcServer, "stopping");
        QCoreApplication::quit();
    });

    QTimer pruneTimer;
    QObject::connect(&pruneTimer, &QTimer::timeout, &app,
                     [&service] { service.pruneTombstones(); });
    pruneTimer.start(pruneInterval(options.tombstoneHorizonSeconds));

    const QString host = options.address.protocol() == QAbstractSocket::IPv6Protocol
            ? QStringLiteral("[%1]").arg(options.address.toString())
            : options.address.toString();
    qCInfo(lcServer, "serving %s%s", qPrintable(options.database.describe()),
           options.requireTokens ? " with tokens" : " for one anonymous user");
    std::printf("listening on http://%s:%u\n", qPrintable(host), unsigned(adapter.serverPort()));
    std::fflush(stdout);

    const int exitCode = QCoreApplication::exec();
    pruneTimer.stop();
    adapter.close();
    store.close();
    return exitCode;
}
