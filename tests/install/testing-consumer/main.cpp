// SPDX-License-Identifier: BSD-3-Clause
// Pushes one insert through an installed TestBackend's transport and prints what came back.
#include <synq/testbackend.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Synq::Testing::TestBackend backend;
    backend.emitUpdate(QStringLiteral("todos"),
                       QVariantMap { { QStringLiteral("id"), QStringLiteral("a") },
                                     { QStringLiteral("title"), QStringLiteral("Milk") } });

    Synq::Protocol::PushMutation m;
    m.id = QStringLiteral("m1");
    m.tx = QStringLiteral("t1");
    m.collection = QStringLiteral("todos");
    m.op = Synq::MutationType::Update;
    m.key = QStringLiteral("a");
    m.baseVersion = 1;
    m.data = QJsonObject { { QStringLiteral("title"), QStringLiteral("Oat milk") } };
    Synq::Protocol::PushRequest request;
    request.mutations = { m };
    request.batch = Synq::Protocol::batchId(request.mutations);

    int exitCode = 1;
    backend.transport()->push(request, [&](const Synq::Protocol::PushResponse &response,
                                           const Synq::SyncError &error) {
        if (!error.isError() && response.results.size() == 1) {
            const Synq::Protocol::PushResult &r = response.results.constFirst();
            std::printf("testing: status=%d version=%lld title=%s\n", int(r.status),
                        static_cast<long long>(r.version),
                        qPrintable(backend.record(QStringLiteral("todos"), QStringLiteral("a"))
                                           .value(QStringLiteral("title"))
                                           .toString()));
            exitCode = 0;
        }
        app.quit();
    });
    QTimer::singleShot(5000, &app, &QCoreApplication::quit); // bounded
    app.exec();
    return exitCode;
}
