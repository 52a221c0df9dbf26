// SPDX-License-Identifier: BSD-3-Clause
//
// Synq::SyncTransport's own behaviour: the default fetch() of a transport that does not
// reimplement it — a clear, non-retryable error, delivered once, later, on the transport's
// thread, and never to a caller whose transport is gone.

#include <synq/synctransport.h>

#include <QtCore/QThread>
#include <QtTest/QTest>

#include "testprinters.h"

#include <memory>

using namespace Synq;

namespace {

constexpr int WaitMs = 5000;

// A transport of a backend that knows push and pull only (the requests are never answered:
// these tests do not make any).
class PushPullTransport : public SyncTransport
{
    Q_OBJECT
public:
    using SyncTransport::SyncTransport;
    void push(const Protocol::PushRequest &, PushCallback) override { }
    void pull(const Protocol::PullRequest &, PullCallback) override { }
};

struct FetchOutcome
{
    QAtomicInt calls = 0;
    Protocol::FetchResponse response;
    SyncError error;
    QThread *thread = nullptr;
};

SyncTransport::FetchCallback record(std::shared_ptr<FetchOutcome> outcome)
{
    return [outcome](const Protocol::FetchResponse &response, const SyncError &error) {
        outcome->response = response;
        outcome->error = error;
        outcome->thread = QThread::currentThread();
        outcome->calls.fetchAndAddOrdered(1);
    };
}

} // namespace

class tst_SyncTransport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultFetchCannotFetch();
    void defaultFetchAnswersOnTheTransportsThread();
    void defaultFetchOfADestroyedTransportIsDropped();
};

void tst_SyncTransport::defaultFetchCannotFetch()
{
    PushPullTransport transport;
    auto outcome = std::make_shared<FetchOutcome>();
    transport.fetch(Protocol::FetchRequest { QStringLiteral("todos"), QStringLiteral("k1") },
                    record(outcome));
    QCOMPARE(outcome->calls.loadRelaxed(), 0); // never inside fetch()
    QTRY_COMPARE_WITH_TIMEOUT(outcome->calls.loadRelaxed(), 1, WaitMs);
    QCOMPARE(outcome->thread, QThread::currentThread());
    QCOMPARE(outcome->error.code(), SyncError::Protocol);
    QVERIFY(!outcome->error.isRetryable());
    QCOMPARE(outcome->error.message(),
             QStringLiteral("This transport cannot fetch single records."));
    QVERIFY2(outcome->error.detail().contains(QLatin1String("PushPullTransport")),
             qPrintable(outcome->error.detail()));
    QCOMPARE(outcome->response.status, Protocol::FetchResponse::Missing);
    QVERIFY(outcome->response.key.isEmpty());
    // Exactly once.
    QCoreApplication::processEvents();
    QTest::qWait(10);
    QCOMPARE(outcome->calls.loadRelaxed(), 1);
}

void tst_SyncTransport::defaultFetchAnswersOnTheTransportsThread()
{
    QThread worker;
    worker.start();
    auto *transport = new PushPullTransport;
    transport->moveToThread(&worker);
    connect(&worker, &QThread::finished, transport, &QObject::deleteLater);
    auto outcome = std::make_shared<FetchOutcome>();
    transport->fetch(Protocol::FetchRequest { QStringLiteral("todos"), QStringLiteral("k1") },
                     record(outcome));
    QTRY_COMPARE_WITH_TIMEOUT(outcome->calls.loadAcquire(), 1, WaitMs); // then the rest is set
    QCOMPARE(outcome->thread, &worker);
    QCOMPARE(outcome->error.code(), SyncError::Protocol);
    worker.quit();
    QVERIFY(worker.wait(WaitMs));
}

void tst_SyncTransport::defaultFetchOfADestroyedTransportIsDropped()
{
    auto transport = std::make_unique<PushPullTransport>();
    auto outcome = std::make_shared<FetchOutcome>();
    transport->fetch(Protocol::FetchRequest { QStringLiteral("todos"), QStringLiteral("k1") },
                     record(outcome));
    transport.reset();
    QCoreApplication::sendPostedEvents();
    QCoreApplication::processEvents();
    QCOMPARE(outcome->calls.loadRelaxed(), 0);
}

QTEST_GUILESS_MAIN(tst_SyncTransport)

#include "tst_synctransport.moc"
