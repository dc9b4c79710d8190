//! The JSON API under `/api/`, as one table: each route's method, path and
//! who may call it. The router is built from the table and the tests walk
//! it, so a new route is behind the admin check unless it is listed public
//! here on purpose.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use super::{WebState, admin, display, join, people, settings, status, update};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone on the network: joining a meeting, logging in.
    Public,
    /// A logged-in admin, with the session's CSRF token.
    Admin,
}

#[derive(Debug, Clone)]
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// The API's routes, public and admin, not yet guarded.
pub struct Api {
    pub public: Router<WebState>,
    pub admin: Router<WebState>,
    pub routes: Vec<ApiRoute>,
}

impl Api {
    fn add<H, T>(mut self, access: Access, method: Method, path: &'static str, handler: H, limit: Option<usize>) -> Self
    where
        H: Handler<T, WebState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
        let mut route = on(filter, handler);
        if let Some(bytes) = limit {
            route = super::errors::body_limit(route, bytes);
        }
        match access {
            Access::Public => self.public = self.public.route(path, route),
            Access::Admin => self.admin = self.admin.route(path, route),
        }
        self.routes.push(ApiRoute { method, path, access });
        self
    }

    fn public<H: Handler<T, WebState>, T: 'static>(self, method: Method, path: &'static str, handler: H) -> Self {
        self.add(Access::Public, method, path, handler, None)
    }

    fn admin<H: Handler<T, WebState>, T: 'static>(self, method: Method, path: &'static str, handler: H) -> Self {
        self.add(Access::Admin, method, path, handler, None)
    }
}

/// Every API route.
pub fn api() -> Api {
    use Access::{Admin, Public};
    let (join_limit, photo_limit) = (Some(join::MAX_JOIN_BODY), Some(people::MAX_PHOTO_BODY));
    Api { public: Router::new(), admin: Router::new(), routes: Vec::new() }
        // Phones joining a meeting (the join code is their key).
        .add(Public, Method::POST, "/api/join", join::join, join_limit)
        .add(Public, Method::POST, "/api/session/{token}", join::renegotiate, join_limit)
        // The room display (what anyone in the room can see).
        .public(Method::GET, "/api/display", display::display)
        .public(Method::GET, "/api/display/qr.svg", display::qr)
        // Becoming the admin.
        .public(Method::GET, "/api/admin/session", admin::session)
        .public(Method::POST, "/api/admin/setup", admin::setup)
        .public(Method::POST, "/api/admin/login", admin::login)
        .admin(Method::POST, "/api/admin/logout", admin::logout)
        .admin(Method::PUT, "/api/admin/password", admin::change_password)
        // The live view: links, sound, CPU, devices, network.
        .admin(Method::GET, "/api/status", status::status)
        // Settings, and a fresh join code.
        .admin(Method::GET, "/api/settings", settings::get)
        .admin(Method::PUT, "/api/settings", settings::put)
        .admin(Method::POST, "/api/meeting/code", settings::new_code)
        .admin(Method::POST, "/api/speaker/tone", settings::test_tone)
        // Face check-in.
        .admin(Method::GET, "/api/checkin", people::status)
        .admin(Method::PUT, "/api/checkin", people::switch)
        .admin(Method::GET, "/api/people", people::list)
        .add(Admin, Method::POST, "/api/people", people::create, photo_limit)
        .admin(Method::POST, "/api/people/capture", people::create_from_camera)
        .admin(Method::DELETE, "/api/people/{id}", people::delete)
        .add(Admin, Method::POST, "/api/people/{id}/photos", people::add_photo, photo_limit)
        .admin(Method::POST, "/api/people/{id}/capture", people::add_capture)
        .admin(Method::GET, "/api/meetings", people::meetings)
        .admin(Method::GET, "/api/meetings/{id}/{format}", people::attendance)
        // Updates: a signed RAUC bundle into the other slot, then a restart into it.
        .admin(Method::GET, "/api/update", update::get)
        .add(Admin, Method::POST, "/api/update", update::upload, Some(update::MAX_BUNDLE))
        .admin(Method::POST, "/api/update/restart", update::restart)
}

/// The table alone, for tests and documentation.
pub fn routes() -> Vec<ApiRoute> {
    api().routes
}
