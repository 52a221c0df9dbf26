// SPDX-License-Identifier: BSD-3-Clause
#include "pullrunner_p.h"

#include "pullapplier_p.h"
#include "syncengine_p.h"

#include <synq/identifier.h>
#include <synq/logging_p.h>

#include <QtCore/QThread>

namespace Synq {

PullRunner::~PullRunner()
{
    stopApplyThread();
}

void PullRunner::begin()
{
    m_queue = e->stores.keys();
    m_queue.sort();
    m_pagesLeft = PagesPerRun;
    next();
}

void PullRunner::next()
{
    if (m_queue.isEmpty()) {
        e->run.finish(SyncError());
        return;
    }
    const QString collection = m_queue.constFirst();
    const quint64 run = e->run.serial();
    if (m_pageAhead && m_pageAhead->run == run && m_pageAhead->collection == collection) {
        if (!m_pageAhead->answered) {
            m_pageAhead->wanted = true;
            return;
        }
        const PageAhead page = std::move(*m_pageAhead);
        m_pageAhead.reset();
        onPulled(page.collection, page.request, page.maxVersion, page.response, page.error);
        return;
    }
    m_pageAhead.reset();
    SyncDatabase::Cursor cursor;
    const SyncError error = e->db->cursor(collection, e->scopeId, &cursor);
    if (error.isError()) {
        e->run.finish(error);
        return;
    }
    requestPage(collection, cursor.cursor, cursor.maxVersion, false);
}

void PullRunner::pageDelivered(const QString &collection, bool hasMore)
{
    if (hasMore && --m_pagesLeft > 0) {
        next();
        return;
    }
    if (m_resyncing.contains(collection) && !hasMore)
        finishResync(collection);
    m_queue.removeFirst();
    m_pagesLeft = PagesPerRun;
    next();
}

// After a page came: the next one of the same collection, when there is one and this run will
// take it (the cursor and highest version it will be asked from are the ones this page leaves).
void PullRunner::prefetchAfter(const QString &collection, qint64 maxVersion,
                               const Protocol::PullResponse &response)
{
    if (!response.hasMore || m_pagesLeft <= 1 || response.cursor.isEmpty())
        return;
    for (const Protocol::Change &c : response.changes)
        maxVersion = qMax(maxVersion, c.version);
    requestPage(collection, response.cursor, maxVersion, true);
}

void PullRunner::requestPage(const QString &collection, const QString &cursor,
                             qint64 maxVersion, bool ahead)
{
    Protocol::PullRequest request;
    request.collection = collection;
    request.cursor = cursor;
    request.limit = PageSize;
    const quint64 run = e->run.serial();
    const quint64 serial = ahead ? ++m_pageAheadSerial : 0;
    if (ahead)
        m_pageAhead = PageAhead { run, serial, collection, request, maxVersion, false, false, {}, {} };
    const QString scopeAtStart = e->scopeId;
    const QPointer<SyncEngine> engine(e->q); // the transport may outlive the engine
    e->transport->pull(request, [this, engine, run, serial, scopeAtStart, collection, request,
                                 maxVersion](const Protocol::PullResponse &response,
                                             const SyncError &e0) {
        if (!engine || !e->run.isCurrent(run) || scopeAtStart != e->scopeId || !e->db)
            return;
        Protocol::PullResponse page = response;
        SyncError error = e0;
        if (!e0.isError() && !request.cursor.isEmpty()) {
            // Cursors only move forward: a page that goes back means the server lost data.
            for (const Protocol::Change &c : response.changes) {
                if (c.version <= maxVersion) {
                    page = {};
                    error = SyncError(SyncError::Protocol,
                                      SyncEngine::tr("The server's changes went back in time "
                                                     "(version %1 after %2).")
                                              .arg(c.version)
                                              .arg(maxVersion));
                    break;
                }
            }
        }
        if (serial != 0) {
            if (!m_pageAhead || m_pageAhead->serial != serial)
                return; // no longer wanted (the run went another way)
            if (!m_pageAhead->wanted) {
                m_pageAhead->answered = true;
                m_pageAhead->response = page;
                m_pageAhead->error = error;
                return;
            }
            m_pageAhead.reset();
        }
        onPulled(collection, request, maxVersion, page, error);
    });
}

void PullRunner::onPulled(const QString &collection, const Protocol::PullRequest &request,
                          qint64 maxVersion, const Protocol::PullResponse &response,
                          const SyncError &error)
{
    if (error.httpStatus() == 410 && !request.cursor.isEmpty()) {
        // resync-required: the server forgot deletions older than our cursor. Pull the
        // collection again from the beginning; the rows it no longer lists go when that listing
        // ends. The outbox stays as it is.
        qCInfo(lcPull) << collection << "needs a full re-sync";
        const SyncError reset = e->db->resetCursor(collection, e->scopeId);
        if (reset.isError()) {
            e->run.finish(reset);
            return;
        }
        m_resyncing.insert(collection);
        m_resyncSeen.remove(collection);
        next();
        return;
    }
    if (error.httpStatus() == 401 && !e->run.hasRetriedUnauthorized()) {
        e->run.setRetriedUnauthorized(); // new credentials were asked for: one more try
        next();
        return;
    }
    if (error.isError()) {
        e->run.finish(error);
        return;
    }
    if (m_resyncing.contains(collection)) {
        QSet<QString> &seen = m_resyncSeen[collection];
        for (const Protocol::Change &c : response.changes)
            seen.insert(c.key);
    }
    e->run.report().pulled += int(response.changes.size());
    // The page's latest write stamp moves this replica's clock on (stamps sort as their text).
    const QString *latest = nullptr;
    for (const Protocol::Change &c : response.changes) {
        if (!c.hlc.isEmpty() && (!latest || c.hlc > *latest))
            latest = &c.hlc;
    }
    if (latest)
        e->seeStamp(*latest);
    apply(collection, response);
    prefetchAfter(collection, maxVersion, response);
}

// Hands the page to the apply thread (started on first use), which writes it with its cursor.
void PullRunner::apply(const QString &collection, const Protocol::PullResponse &page)
{
    if (!m_applier) {
        m_applyThread = new QThread(e->q);
        m_applyThread->setObjectName(QStringLiteral("synq-apply"));
        m_applier = new PullApplier(e->db.get());
        m_applier->moveToThread(m_applyThread);
        QObject::connect(m_applyThread, &QThread::finished, m_applier, &QObject::deleteLater);
        QObject::connect(m_applier, &PullApplier::applied, e->q,
                         [this](quint64 serial, const QString &c,
                                const QList<SyncDatabase::SyncedWrite> &w, bool more,
                                const SyncError &error) {
                             e->delivery.onPageApplied(serial, c, w, more, error);
                         });
        m_applyThread->start();
    }
    QMetaObject::invokeMethod(m_applier, "apply", Qt::QueuedConnection,
                              Q_ARG(quint64, e->run.serial()), Q_ARG(QString, e->scopeId),
                              Q_ARG(QString, collection),
                              Q_ARG(Synq::Protocol::PullResponse, page));
}

void PullRunner::stopApplyThread()
{
    if (!m_applyThread)
        return;
    PullApplier *a = m_applier;
    QMetaObject::invokeMethod(
            a,
            [a] {
                a->release();
                delete a;
            },
            Qt::BlockingQueuedConnection);
    m_applier = nullptr;
    m_applyThread->quit();
    m_applyThread->wait();
    delete m_applyThread;
    m_applyThread = nullptr;
}

void PullRunner::finishResync(const QString &collection)
{
    // The full listing is in: synced rows it did not list were deleted on the server.
    const QSet<QString> seen = m_resyncSeen.take(collection);
    m_resyncing.remove(collection);
    QStringList synced;
    const SyncError error = e->db->syncedKeys(collection, e->scopeId, &synced);
    if (error.isError()) {
        e->report(error);
        return;
    }
    Settlement::Outcome outcome;
    outcome.keepNewerStored = false;
    for (const QString &key : std::as_const(synced)) {
        if (!seen.contains(key))
            outcome.serverStates.append({ collection, key, std::nullopt, 0 });
    }
    if (!outcome.serverStates.isEmpty())
        e->settlement.apply(std::move(outcome));
}

} // namespace Synq
