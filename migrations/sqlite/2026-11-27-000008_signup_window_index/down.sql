DROP INDEX activities_signup_window;
