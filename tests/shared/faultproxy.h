// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQTEST_FAULTPROXY_H
#define SYNQTEST_FAULTPROXY_H

#include <QtCore/QByteArray>
#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QRandomGenerator>
#include <QtCore/QString>
#include <QtCore/QUrl>

QT_BEGIN_NAMESPACE
class QTcpServer;
QT_END_NAMESPACE

namespace SynqTest {

class FaultProxyConnection;
class FaultProxyExchange;

class FaultProxy : public QObject
{
    Q_OBJECT

public:
    enum Fault {
        NoFault,
        DropResponse,
        Delay,
        Reset,
        ServerError,
        RateLimit,
        Duplicate,
        TruncateResponse,
    };
    Q_ENUM(Fault)

    static constexpr qsizetype MaxHeadSize = 64 * 1024;
    static constexpr qsizetype MaxBodySize = 64 * 1024 * 1024;
    static constexpr int MaxConnections = 256;

    explicit FaultProxy(const QUrl &target, QObject *parent = nullptr);
    ~FaultProxy() override;

    bool listen();
    bool isListening() const;
    QString errorString() const;
    quint16 port() const;
    QUrl url() const;

    QUrl target() const;
    void setTarget(const QUrl &target);

    void setFaultProbability(SynqTest::FaultProxy::Fault fault, double probability);
    double faultProbability(SynqTest::FaultProxy::Fault fault) const;
    void failNext(SynqTest::FaultProxy::Fault fault, int count = 1);
    int pendingFaults() const;
    void clearFaults();

    void setPathFilter(const QString &pathPrefix);
    QString pathFilter() const;

    void setDelay(int ms);
    int delay() const;
    void setRetryAfter(int seconds);
    int retryAfter() const;
    void setServerErrorStatus(int status);
    int serverErrorStatus() const;
    void setUpstreamTimeout(int ms);
    int upstreamTimeout() const;
    void setSeed(quint32 seed);

    int connectionsAccepted() const;
    int requestsSeen() const;
    int requestsForwarded() const;
    int responsesDelivered() const;
    int upstreamErrors() const;
    int faultsInjected(SynqTest::FaultProxy::Fault fault) const;
    int totalFaultsInjected() const;
    void resetCounters();

Q_SIGNALS:
    void requestReceived(const QByteArray &method, const QByteArray &path);
    void requestForwarded(const QByteArray &method, const QByteArray &path);
    void faultInjected(SynqTest::FaultProxy::Fault fault, const QByteArray &method,
                       const QByteArray &path);
    void responseDelivered(const QByteArray &method, const QByteArray &path, int status);
    void upstreamFailed(const QByteArray &method, const QByteArray &path, const QString &reason);

private:
    friend class FaultProxyConnection;
    friend class FaultProxyExchange;

    void acceptConnections();
    void processClient(FaultProxyConnection *connection);
    void forward(FaultProxyExchange *exchange);
    void upstreamFinished(FaultProxyExchange *exchange);
    void upstreamFailure(FaultProxyExchange *exchange, const QString &reason);
    void deliver(FaultProxyExchange *exchange);
    void finishExchange(FaultProxyExchange *exchange);
    void closeClient(FaultProxyConnection *connection, bool abort);
    void clientDisconnected(FaultProxyConnection *connection);
    void releaseConnection(FaultProxyConnection *connection);
    void reply(FaultProxyConnection *connection, const QByteArray &method,
               const QByteArray &path, const QByteArray &response, int status, bool close);
    Fault chooseFault(const QByteArray &path);
    void countFault(Fault fault, const QByteArray &method, const QByteArray &path);

    QTcpServer *m_server = nullptr;
    QUrl m_target;
    QList<FaultProxyConnection *> m_connections;
    QHash<int, double> m_probabilities;
    QList<Fault> m_oneShots;
    QString m_pathFilter;
    QRandomGenerator m_random;
    int m_delayMs = 1000;
    int m_retryAfterSeconds = 1;
    int m_serverErrorStatus = 500;
    int m_upstreamTimeoutMs = 30000;

    int m_connectionsAccepted = 0;
    int m_requestsSeen = 0;
    int m_requestsForwarded = 0;
    int m_responsesDelivered = 0;
    int m_upstreamErrors = 0;
    QHash<int, int> m_faultCounts;
};

} // namespace SynqTest

#endif // SYNQTEST_FAULTPROXY_H
