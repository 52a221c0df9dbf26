// SPDX-License-Identifier: BSD-3-Clause
#include "testtransport_p.h"

#include "testbackend_p.h"

#include <synq/identifier.h>
#include <synq/logging_p.h>
#include <synq/pushrules.h>

#include <QtCore/QPointer>
#include <QtCore/QTimer>

#include <utility>


namespace Synq {
namespace Testing {

using Protocol::FetchRequest;
using Protocol::FetchResponse;
using Protocol::PullRequest;
using Protocol::PullResponse;
using Protocol::PushRequest;
using Protocol::PushResponse;

namespace {

// A transport-level error exactly as HttpTransport reports the same answer from synq-server.
SyncError httpError(int status, const QString &code, const QString &message)
{
    return Protocol::errorFromResponse(status, code, message);
}

SyncError validationError(const QString &message)
{
    return httpError(400, QStringLiteral("validation"), message);
}

/*
    The first defect synq-server finds in request (server/pushrequest.cpp): those of
    PushRules::checkPush() and a malformed stamp (Protocol::checkHlc()), which synq-server
    reads last of each mutation. When there are both, the one it meets first wins: a defect
    of the envelope, or of a mutation up to the one with the bad stamp — exactly when
    checkPush() finds one in the request cut after that mutation.
*/
std::optional<PushRules::Problem> firstProblem(const PushRequest &request)
{
    const std::optional<PushRules::Problem> problem = PushRules::checkPush(request);
    for (qsizetype i = 0; i < request.mutations.size(); ++i) {
        const QString &hlc = request.mutations.at(i).hlc;
        const std::optional<QString> text = hlc.isEmpty() ? std::nullopt : Protocol::checkHlc(hlc);
        if (!text)
            continue;
        const PushRules::Problem stamp { PushRules::mutationField(i, "hlc"), *text };
        if (!problem)
            return stamp;
        if (PushRules::checkMutationCount(request.mutations.size()))
            return problem;
        PushRequest head = request;
        head.mutations = request.mutations.mid(0, i + 1);
        return PushRules::checkPush(head) ? problem : stamp;
    }
    return problem;
}

// Cursors are the version the client has seen everything up to, in decimal.
bool parseCursor(const QString &text, qint64 *version)
{
    *version = 0;
    if (text.isEmpty())
        return true;
    if (text.size() > 18)
        return false;
    for (const QChar c : text) {
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
    }
    *version = text.toLongLong();
    return true;
}

} // namespace

TestTransport::TestTransport(TestBackendPrivate *backend, QObject *parent)
    : SyncTransport(parent), m_backend(backend)
{
}

SyncError TestTransport::unreachable()
{
    SyncError error(SyncError::Network, QStringLiteral("The server cannot be reached."),
                    QStringLiteral("TestBackend is offline"));
    error.setRetryable(true);
    error.setHttpStatus(0);
    return error;
}

bool TestTransport::takeRequestFailure(TestBackend::RequestType type, SyncError *error)
{
    for (qsizetype i = 0; i < m_backend->requestFailures.size(); ++i) {
        const TestBackend::RequestType wanted = m_backend->requestFailures.at(i).type;
        if (wanted == TestBackend::AnyRequest || wanted == type) {
            *error = m_backend->requestFailures.takeAt(i).error;
            return true;
        }
    }
    return false;
}

// Answers never run inside push()/pull(): they are queued on the transport, so they are
// dropped (never called) when the backend — and with it the transport — is destroyed first.
template<typename Response, typename Callback>
void TestTransport::deliver(Response response, SyncError error, Callback done,
                            std::function<void(TestBackend *)> announce)
{
    if (!m_backend->transport)
        return; // the backend is being destroyed
    QPointer<TestBackend> backend(m_backend->q);
    QTimer::singleShot(m_backend->networkDelay, this,
                       [backend, response = std::move(response), error = std::move(error),
                        done = std::move(done), announce = std::move(announce)] {
                           if (done)
                               done(response, error);
                           if (backend && announce)
                               announce(backend);
                       });
}

void TestTransport::push(const PushRequest &request, PushCallback done)
{
    ++m_backend->pushRequests;
    SyncError error;
    if (m_backend->offline) {
        error = unreachable();
    } else if (!takeRequestFailure(TestBackend::PushRequests, &error)) {
        // As synq-server reads them: null metadata is none, as it is left out of the JSON.
        for (Protocol::PushMutation m : request.mutations) {
            if (m.metadata.isNull())
                m.metadata = QJsonValue(QJsonValue::Undefined);
            m_backend->pushedMutations.append(std::move(m));
        }
        // The checks synq-server makes before it applies anything, with its answer.
        if (const std::optional<PushRules::Problem> problem = firstProblem(request))
            error = httpError(problem->httpStatus,
                              problem->httpStatus == 413 ? QStringLiteral("too-large")
                                                         : QStringLiteral("validation"),
                              problem->message());
    }
    if (error.isError()) {
        qCDebug(lcTesting) << "push of" << request.mutations.size()
                           << "mutations answered with" << error.toString();
        deliver(PushResponse(), error, std::move(done), nullptr);
        return;
    }
    const PushResponse response =
            m_backend->pushHandler.run(request, &m_backend->persistFailures);
    qCDebug(lcTesting) << "push of" << request.mutations.size()
                       << "mutations applied; version now" << m_backend->store.currentVersion();
    const int count = int(request.mutations.size());
    deliver(response, SyncError(), std::move(done),
            [count](TestBackend *backend) { Q_EMIT backend->pushed(count); });
}

void TestTransport::pull(const PullRequest &request, PullCallback done)
{
    ++m_backend->pullRequests;
    SyncError error;
    qint64 since = 0;
    if (m_backend->offline) {
        error = unreachable();
    } else if (takeRequestFailure(TestBackend::PullRequests, &error)) {
    } else if (!isValidIdentifier(request.collection)) {
        error = validationError(QStringLiteral("collection: not an identifier"));
    } else if (request.limit < 1 || request.limit > Protocol::MaxChangesPerPull) {
        error = validationError(QStringLiteral("limit: not an integer from 1 to %1")
                                        .arg(Protocol::MaxChangesPerPull));
    } else if (!parseCursor(request.cursor, &since)) {
        error = validationError(QStringLiteral("since: not a cursor this server handed out"));
    } else if (since > m_backend->store.currentVersion()) {
        error = httpError(410, QStringLiteral("resync-required"),
                          QStringLiteral("the cursor is ahead of this server: pull the "
                                         "collection again from the beginning"));
    }
    if (error.isError()) {
        qCDebug(lcTesting) << "pull of" << request.collection << "answered with"
                           << error.toString();
        deliver(PullResponse(), error, std::move(done), nullptr);
        return;
    }

    // From the beginning only live records are listed (a snapshot); after a cursor, every
    // change including deletions. Each key appears once, with its latest state.
    PullResponse response;
    response.changes = m_backend->store.changes(request.collection, since, request.limit,
                                                request.cursor.isEmpty(), &response.hasMore);
    response.cursor = QString::number(response.hasMore ? response.changes.constLast().version
                                                       : m_backend->store.currentVersion());
    qCDebug(lcTesting) << "pull of" << request.collection << "since" << since << "lists"
                       << response.changes.size() << "changes, cursor" << response.cursor;
    deliver(response, SyncError(), std::move(done),
            [collection = request.collection](TestBackend *backend) {
                Q_EMIT backend->pulled(collection);
            });
}

// The key's state now, by the rule synq-server answers GET /v1/record with. Tombstones are
// never pruned here, so Missing always means never written (or forgotten by reset()).
void TestTransport::fetch(const FetchRequest &request, FetchCallback done)
{
    ++m_backend->fetchRequests;
    SyncError error;
    if (m_backend->offline) {
        error = unreachable();
    } else if (takeRequestFailure(TestBackend::FetchRequests, &error)) {
    } else if (const std::optional<PushRules::Problem> problem = PushRules::checkFetch(request)) {
        error = validationError(problem->message());
    }
    if (error.isError()) {
        qCDebug(lcTesting) << "fetch of" << request.collection << request.key << "answered with"
                           << error.toString();
        deliver(FetchResponse(), error, std::move(done), nullptr);
        return;
    }
    const TestStore::Entry entry = m_backend->store.stateOf(request.collection, request.key);
    const FetchResponse response = PushRules::fetchAnswer(request.key, entry, entry.hlc);
    qCDebug(lcTesting) << "fetch of" << request.collection << request.key << "answered with"
                       << "status" << int(response.status) << "version" << response.version;
    deliver(response, SyncError(), std::move(done), nullptr);
}

} // namespace Testing
} // namespace Synq
