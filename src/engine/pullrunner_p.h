// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PULLRUNNER_P_H
#define SYNQ_PULLRUNNER_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/protocol.h>
#include <synq/syncerror.h>

#include <QtCore/QHash>
#include <QtCore/QSet>
#include <QtCore/QStringList>

#include <optional>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace Synq {

class PullApplier;
class SyncEnginePrivate;

/*
    The pull phase of a sync run: for each collection with models, in name order, pages of
    changes from its cursor on, at most PagesPerRun pages per run. Each page is checked (a
    cursor only moves forward), written with its new cursor in one SQL transaction on the apply
    thread (PullApplier), and handed to the models by Delivery; the next page is asked for as
    soon as a page came, so that the server prepares it while this one is written and shown.
    A 410 (the server forgot deletions older than the cursor) pulls the collection again from
    the beginning and removes the rows that listing no longer has; a 401 gets one more try
    with new credentials per run.
*/
class PullRunner
{
public:
    // Pages per collection and run; a run that stops early leaves the rest to the next one.
    static constexpr int PagesPerRun = 1000;
    static constexpr int PageSize = 500;

    explicit PullRunner(SyncEnginePrivate *engine) : e(engine) { }
    ~PullRunner();

    void begin();
    // Delivery handed every row of the collection's page to the models.
    void pageDelivered(const QString &collection, bool hasMore);
    // The run ends or is dropped: a page asked ahead is not wanted any more.
    void abandon() { m_pageAhead.reset(); }
    void stopApplyThread();

private:
    // The page after the one being applied, asked for as soon as that one came (its cursor is
    // in it). Handed on, answered or not, when the page before it is delivered.
    struct PageAhead
    {
        quint64 run = 0;
        quint64 serial = 0;
        QString collection;
        Protocol::PullRequest request;
        qint64 maxVersion = 0; // the highest version applied before it
        bool answered = false;
        bool wanted = false; // the page before is delivered: hand it on when it comes
        Protocol::PullResponse response;
        SyncError error;
    };

    void next();
    void requestPage(const QString &collection, const QString &cursor, qint64 maxVersion,
                     bool ahead);
    void prefetchAfter(const QString &collection, qint64 maxVersion,
                       const Protocol::PullResponse &response);
    void onPulled(const QString &collection, const Protocol::PullRequest &request,
                  qint64 maxVersion, const Protocol::PullResponse &response,
                  const SyncError &error);
    void apply(const QString &collection, const Protocol::PullResponse &page);
    void finishResync(const QString &collection);

    SyncEnginePrivate *e;
    QStringList m_queue; // collections still to pull in this run
    int m_pagesLeft = 0;
    std::optional<PageAhead> m_pageAhead;
    quint64 m_pageAheadSerial = 0;
    QSet<QString> m_resyncing; // collections being pulled again from the beginning (410)
    QHash<QString, QSet<QString>> m_resyncSeen; // keys listed so far by that pull
    QThread *m_applyThread = nullptr;
    PullApplier *m_applier = nullptr;
};

} // namespace Synq

#endif
